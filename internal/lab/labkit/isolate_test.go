package labkit

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The rules as nft reads them (--check: parsed and validated by the
// kernel's nftables, nothing installed).
func TestIsolationRulesCheck(t *testing.T) {
	if _, err := exec.LookPath("nft"); err != nil || os.Geteuid() != 0 {
		t.Skip("needs nft and root")
	}
	c := Config{Prefix: "ewc"}.WithDefaults()
	check := exec.Command("nft", "--check", "-f", "-")
	check.Stdin = strings.NewReader(c.isolationRules())
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("nft --check: %v: %s\n%s", err, out, c.isolationRules())
	}
}

func TestProxyConfigNeedsHTTPMirror(t *testing.T) {
	c := Config{}.WithDefaults()
	if _, err := c.proxyConfig("https://deb.debian.org/debian"); err == nil || !strings.Contains(err.Error(), "http://") {
		t.Errorf("https mirror: %v", err)
	}
	conf, err := c.proxyConfig("http://deb.debian.org/debian/")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Remap-lab: deb.debian.org/debian ; http://deb.debian.org/debian/\n", "ForceManaged: 1\n", "BindAddress: 10.213.0.1\n", "PassThroughPattern: ^$\n"} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
}
