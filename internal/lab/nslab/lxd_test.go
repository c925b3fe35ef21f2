package nslab

import (
	"strings"
	"testing"
)

func TestRuleWords(t *testing.T) {
	got := ruleWords(`INPUT -i ew-lxdbr -p udp -m udp --dport 67 -m comment --comment "generated for LXD network ew-lxdbr" -j ACCEPT`)
	want := []string{"INPUT", "-i", "ew-lxdbr", "-p", "udp", "-m", "udp", "--dport", "67", "-m", "comment", "--comment", "generated for LXD network ew-lxdbr", "-j", "ACCEPT"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q", got)
	}
}
