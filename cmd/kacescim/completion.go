package main

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/conformance"
)

// completionTimeout bounds a completion's call to the admin API: a shell
// waiting on a TAB must not hang on a server that is away.
const completionTimeout = 1500 * time.Millisecond

// registerCompletions gives the command tree under root its dynamic
// completions: provider names (from the admin API of the server the CLI
// would use), field names, directory users' emails, and the tester's
// suite and check names (offline). A completion that cannot reach the
// server completes nothing, silently.
func registerCompletions(root *cobra.Command, g *globalOptions) {
	providers := g.completeFromServer(func(ctx context.Context, a *client.Admin) ([]string, error) {
		ps, err := a.Providers(ctx)
		var names []string
		for _, p := range ps {
			names = append(names, p.Name)
		}
		return names, err
	})
	fields := g.completeFromServer(func(ctx context.Context, a *client.Admin) ([]string, error) {
		fs, err := a.Fields(ctx)
		var names []string
		for _, f := range fs {
			names = append(names, f.Name)
		}
		return names, err
	})
	emails := g.completeFromServer(func(ctx context.Context, a *client.Admin) ([]string, error) {
		list, err := a.DirectoryUsers(ctx, client.DirectoryUserQuery{Count: 200})
		if err != nil {
			return nil, err
		}
		var out []string
		for _, u := range list.Users {
			if e, ok := u.Fields["Email"].(string); ok && e != "" {
				out = append(out, e)
			}
		}
		return out, nil
	})

	webhookIDs := g.completeFromServer(func(ctx context.Context, a *client.Admin) ([]string, error) {
		hooks, err := a.Webhooks(ctx)
		var ids []string
		for _, h := range hooks {
			ids = append(ids, h.ID)
		}
		return ids, err
	})

	// revoke-key's and revoke-secret's arguments: a provider, then the ids
	// that ids lists of that provider.
	providerThen := func(ids func(ctx context.Context, a *client.Admin, provider string) ([]string, error)) cobra.CompletionFunc {
		return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			switch len(args) {
			case 0:
				return providers(cmd, args, toComplete)
			case 1:
				return g.completeFromServer(func(ctx context.Context, a *client.Admin) ([]string, error) {
					return ids(ctx, a, args[0])
				})(cmd, args, toComplete)
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
	}
	keyIDs := providerThen(func(ctx context.Context, a *client.Admin, provider string) ([]string, error) {
		keys, err := a.Keys(ctx, provider)
		var ids []string
		for _, k := range keys {
			ids = append(ids, k.ID)
		}
		return ids, err
	})
	secretIDs := providerThen(func(ctx context.Context, a *client.Admin, provider string) ([]string, error) {
		c, err := a.OAuthClient(ctx, provider)
		if err != nil {
			return nil, err
		}
		var ids []string
		for _, s := range c.Secrets {
			ids = append(ids, s.ID)
		}
		return ids, nil
	})

	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
		switch {
		case path == "provider revoke-key":
			c.ValidArgsFunction = keyIDs
		case path == "provider revoke-secret":
			c.ValidArgsFunction = secretIDs
		case strings.HasPrefix(path, "provider ") && strings.Contains(c.Use, "NAME") && path != "provider add":
			c.ValidArgsFunction = firstArg(providers)
		case path == "users show", path == "users history":
			c.ValidArgsFunction = firstArg(emails)
		case path == "webhooks show", path == "webhooks remove", path == "webhooks replay":
			c.ValidArgsFunction = firstArg(webhookIDs)
		}
		for name, complete := range map[string]cobra.CompletionFunc{
			"provider": providers,
			"user":     emails,
			"field":    fields,
			"suite":    completeSuites,
			"only":     completeChecks,
			"skip":     completeChecks,
		} {
			if c.LocalNonPersistentFlags().Lookup(name) != nil {
				_ = c.RegisterFlagCompletionFunc(name, complete)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// completeFromServer is a completion of the names list returns from the
// admin API, filtered by what was typed; nothing when the server cannot
// be asked.
func (g *globalOptions) completeFromServer(list func(context.Context, *client.Admin) ([]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		// Completion runs no PersistentPreRunE: take --data-dir, --server
		// and --token from the environment and the config file here.
		_ = g.resolve(cmd)
		token, err := g.adminToken()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		tlsOpts, err := g.tlsOptions()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		a := client.NewAdmin(g.serverURL(), token, append(tlsOpts, client.WithUserAgent(g.userAgent()), client.WithTimeout(completionTimeout))...)
		ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
		defer cancel()
		names, err := list(ctx, a)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return matching(names, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// firstArg completes the first argument with complete, and nothing after.
func firstArg(complete cobra.CompletionFunc) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return complete(cmd, args, toComplete)
	}
}

// completeSuites completes --suite with the built-in suites, after the
// ones already given (comma-separated).
func completeSuites(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return listCompletion(conformance.Suites, toComplete), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// completeChecks completes --only and --skip with the built-in checks'
// names and each suite's pattern ("okta-lifecycle/*").
func completeChecks(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	var names []string
	for _, s := range conformance.Suites {
		names = append(names, s+"/*")
	}
	if scenarios, err := conformance.BuiltinScenarios(); err == nil {
		for _, s := range scenarios {
			names = append(names, s.CheckNames()...)
		}
	}
	slices.Sort(names)
	return listCompletion(slices.Compact(names), toComplete), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

// listCompletion completes the last item of a comma-separated list:
// "okta-lifecycle,gro" offers "okta-lifecycle,groups".
func listCompletion(names []string, toComplete string) []cobra.Completion {
	done, last := "", toComplete
	if i := strings.LastIndexByte(toComplete, ','); i >= 0 {
		done, last = toComplete[:i+1], toComplete[i+1:]
	}
	var out []cobra.Completion
	for _, n := range matching(names, last) {
		out = append(out, done+n)
	}
	return out
}

// matching are the names that start with prefix, case-insensitively.
func matching(names []string, prefix string) []cobra.Completion {
	var out []cobra.Completion
	for _, n := range names {
		if strings.HasPrefix(strings.ToLower(n), strings.ToLower(prefix)) {
			out = append(out, n)
		}
	}
	return out
}
