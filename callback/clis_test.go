package callback

import "testing"

func TestLookupCLI(t *testing.T) {
	want := map[string][]int{
		"kiro-cli":   {49153, 50153, 51153, 52153, 53153},
		"codex":      {1455, 1457},
		"wrangler":   {8976},
		"vault":      {8250},
		"kubelogin":  {8000, 18000},
		"databricks": {8020, 8021, 8022, 8023, 8024, 8025, 8026, 8027, 8028, 8029},
		"firebase":   {9005, 9006, 9007, 9008, 9009},
		"aws":        nil, "az": nil, "gh": nil, "gcloud": {8085}, "gemini": nil,
	}
	for name, ports := range want {
		c, ok := LookupCLI(name)
		if !ok {
			t.Errorf("%s: not known", name)
			continue
		}
		if len(c.Login) == 0 || c.Hint == "" {
			t.Errorf("%s: no login command or hint: %+v", name, c)
		}
		if len(c.Ports) != len(ports) {
			t.Errorf("%s: ports %v, want %v", name, c.Ports, ports)
			continue
		}
		for i := range ports {
			if c.Ports[i] != ports[i] {
				t.Errorf("%s: ports %v, want %v", name, c.Ports, ports)
			}
		}
	}
	for _, in := range []string{"/usr/local/bin/aws", "kubectl-oidc_login", " gh "} {
		if _, ok := LookupCLI(in); !ok {
			t.Errorf("LookupCLI(%q) not found", in)
		}
	}
	if _, ok := LookupCLI("no-such-cli"); ok {
		t.Error("unknown CLI found")
	}
	seen := map[string]bool{}
	for _, c := range CLIs {
		if seen[c.Name] {
			t.Errorf("duplicate %s", c.Name)
		}
		seen[c.Name] = true
		for _, p := range c.Ports {
			if p < 1024 || p > 65535 {
				t.Errorf("%s: port %d out of range", c.Name, p)
			}
		}
	}
}

func TestLoginCommandsKnown(t *testing.T) {
	checks := map[string][]string{
		"kiro-cli": {"kiro-cli", "login"}, "codex": {"codex", "login"}, "gh": {"gh", "auth", "login"},
		"az": {"az", "login"}, "gcloud": {"gcloud", "auth", "login"}, "wrangler": {"wrangler", "login"},
		"firebase": {"firebase", "login"}, "vault": {"vault", "login", "-method=oidc"},
	}
	for name, login := range checks {
		c, _ := LookupCLI(name)
		if len(c.Login) != len(login) {
			t.Errorf("%s: login %q, want %q", name, c.Login, login)
			continue
		}
		for i := range login {
			if c.Login[i] != login[i] {
				t.Errorf("%s: login %q, want %q", name, c.Login, login)
			}
		}
	}
}
