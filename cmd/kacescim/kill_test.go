package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/server"
)

// kacescimBinary is the path of this test binary under the name
// "kacescim", which TestMain runs as the CLI: a real process to start,
// signal and kill.
func kacescimBinary(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "kacescim")
	if err := os.Symlink(exe, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestKillNineLosesNoAcknowledgedWrite runs `kacescim serve` as a process
// of its own, sends it creates from 8 clients at once and kills it with
// SIGKILL mid-load, 20 times over one data directory: every create it
// answered 201 must be there after the last restart.
func TestKillNineLosesNoAcknowledgedWrite(t *testing.T) {
	bin := kacescimBinary(t)
	data := t.TempDir()
	const token = "kill-test-admin-token-0123456789"
	ctx := context.Background()

	start := func(t *testing.T) (*exec.Cmd, string) {
		t.Helper()
		urlFile := filepath.Join(data, serverURLFile)
		os.Remove(urlFile) // the killed server's
		cmd := exec.Command(bin, "serve", "--data-dir", data, "--listen", "127.0.0.1:0", "--admin-token", token, "--log-level", "error")
		cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir())
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for range 200 {
			if b, err := os.ReadFile(urlFile); err == nil && len(b) > 0 {
				url := strings.TrimSpace(string(b))
				if resp, err := http.Get(url + "/readyz"); err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						return cmd, url
					}
				}
			}
			time.Sleep(25 * time.Millisecond)
		}
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("kacescim serve did not come up")
		return nil, ""
	}

	cmd, url := start(t)
	created, err := client.NewAdmin(url, token).CreateProvider(ctx, adminapi.CreateProviderRequest{Name: "okta", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	key := created.Key

	var acked []string
	for round := range 20 {
		if round > 0 {
			cmd, url = start(t)
		}
		scim := client.NewSCIM(url+server.SCIMPrefix, key, client.WithTimeout(5*time.Second))
		var (
			mu   sync.Mutex
			wg   sync.WaitGroup
			stop = make(chan struct{})
		)
		for w := range 8 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					name := fmt.Sprintf("kill-%02d-%d-%d@example.com", round, w, i)
					resp, err := scim.DoJSON(ctx, http.MethodPost, "/Users", map[string]any{
						"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": name, "active": true,
					})
					if err != nil {
						return // the server is gone
					}
					if resp.Status == http.StatusCreated {
						mu.Lock()
						acked = append(acked, name)
						mu.Unlock()
					}
				}
			})
		}
		time.Sleep(time.Duration(150+round*10) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		close(stop)
		wg.Wait()
	}

	cmd, url = start(t)
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	scim := client.NewSCIM(url+server.SCIMPrefix, key)
	stored := map[string]bool{}
	for startIndex := 1; ; startIndex += 1000 {
		resp, err := scim.Do(ctx, http.MethodGet, fmt.Sprintf("/Users?filter=userName+sw+%%22kill-%%22&startIndex=%d&count=1000", startIndex), nil)
		if err != nil || resp.Status != http.StatusOK {
			t.Fatalf("list: %v %+v", err, resp)
		}
		var page struct {
			TotalResults int `json:"totalResults"`
			Resources    []struct {
				UserName string `json:"userName"`
			} `json:"Resources"`
		}
		if err := json.Unmarshal(resp.Body, &page); err != nil {
			t.Fatal(err)
		}
		for _, u := range page.Resources {
			stored[u.UserName] = true
		}
		if len(page.Resources) == 0 || startIndex+len(page.Resources) > page.TotalResults {
			break
		}
	}
	lost := 0
	for _, name := range acked {
		if !stored[name] {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged create lost: %s", name)
			}
		}
	}
	if len(acked) < 100 {
		t.Errorf("only %d creates acknowledged in 20 rounds: the load did not run", len(acked))
	}
	t.Logf("20 kill -9: %d creates acknowledged, %d lost, %d stored", len(acked), lost, len(stored))
}
