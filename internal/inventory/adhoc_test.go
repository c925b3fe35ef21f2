package inventory

import (
	"path/filepath"
	"strings"
	"testing"

	"everywhere/internal/sshconfig"
)

func TestAdHoc(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "hosts")
	writeFile(t, list, "# the edge\nops@10.213.200.7:2222\n\nweb1  # an alias\n[::1]:2200\n")
	config := filepath.Join(dir, "ssh_config")
	writeFile(t, config, "Host web1\n  HostName 10.213.201.2\n  User deploy\n")
	inv, err := AdHoc("@"+list, Options{SSHConfig: config})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range inv.Hosts {
		got = append(got, h.Name+"="+h.User+"@"+h.Addr()+"|"+string(h.Arch))
	}
	want := []string{"10.213.200.7=ops@10.213.200.7:2222|", "web1=deploy@10.213.201.2:22|", "h_1=" + currentUser() + "@[::1]:2200|"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), strings.Join(want, " "))
	}
	if inv.Hosts[1].Line != 4 {
		t.Errorf("line %d", inv.Hosts[1].Line)
	}

	same, err := AdHoc("a, a:2222", Options{SSHConfig: sshconfig.None})
	if err != nil || same.Hosts[0].Name != "a" || same.Hosts[1].Name != "a_2222" {
		t.Errorf("one host on two ports: %+v, %v", same, err)
	}
	writeFile(t, list, "a\nb c\n")
	for in, want := range map[string]string{
		"a,a":               `-H: "a": the same host as -H`,
		"@" + list:          list + `:2: "b c": one [user@]host[:port] a line`,
		" , ":               `-H " , ": no hosts`,
		"x:99999":           `-H: "x:99999": port "99999" is not in 1-65535`,
		"@" + dir + "/none": "no such file",
	} {
		if _, err := AdHoc(in, Options{SSHConfig: sshconfig.None}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("AdHoc(%q): got %v, want %q", in, err, want)
		}
	}
}

// TestArchOptional: an inventory may leave arch out; it is then detected.
func TestArchOptional(t *testing.T) {
	inv, err := Parse("inv.yaml", []byte("hosts:\n  - {name: a, address: 10.0.0.1}\n"), Options{SSHConfig: sshconfig.None})
	if err != nil || inv.Hosts[0].Arch != "" {
		t.Fatalf("%+v, %v", inv, err)
	}
}
