package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"sort"
	"strings"
	"testing"

	"everywhere/internal/compare"
	"everywhere/internal/host"
	"everywhere/internal/result"
)

// labHosts are the lab's six hosts, named after their architectures.
var labHosts = []string{"armhf", "arm64", "i386", "amd64", "ppc64el", "s390x"}

// answers is a run of the given hosts (name/arch) and steps, each host's
// step made by fn (nil: the host has no such step).
func answers(plan string, hosts [][2]string, steps []string, fn func(h int, step string) *result.StepResult) *result.Result {
	res := &result.Result{Schema: result.Schema, RunID: "20261207-160000-5eed5eed", Plan: plan, Steps: steps, DurationMS: 2100}
	for i, h := range hosts {
		hr := result.HostResult{Name: h[0], Arch: h[1], Address: fmt.Sprintf("10.213.0.%d:22", 11+i), Status: result.OK, ConnectMS: 40}
		for _, name := range steps {
			if s := fn(i, name); s != nil {
				s.Name = name
				if s.Status == "" {
					s.Status, s.ExitCode = result.OK, code(0)
				}
				s.StdoutBytes, s.StderrBytes = int64(len(s.Stdout)), int64(len(s.Stderr))
				s.DurationMS = int64(100 + 10*i)
				hr.Steps = append(hr.Steps, *s)
				hr.Status = result.Worse(hr.Status, s.Status)
			}
		}
		res.Hosts = append(res.Hosts, hr)
	}
	return res
}

func lab() [][2]string {
	var hosts [][2]string
	for _, n := range labHosts {
		hosts = append(hosts, [2]string{n, n})
	}
	return hosts
}

func kernelOf(arch string) string { a, _ := host.ParseArch(arch); return a.Kernel() }

// scenarios are the cases every view must answer alike.
func scenarios() map[string]*result.Result {
	sh := func(command, stdout string) *result.StepResult {
		return &result.StepResult{Kind: "shell", Command: command, Stdout: stdout}
	}
	osRelease := map[string]string{
		"debian": "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n",
		"ubuntu": "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nID=ubuntu\nID_LIKE=debian\n",
		"fedora": "PRETTY_NAME=\"Fedora Linux 41 (Container Image)\"\nNAME=\"Fedora Linux\"\nVERSION_ID=41\nID=fedora\n",
	}
	var eight [][2]string
	for i := range 8 {
		eight = append(eight, [2]string{fmt.Sprintf("amd64-%d", i+1), "amd64"})
	}
	return map[string]*result.Result{
		"six-archs": answers("six architectures", lab(), []string{"machine", "kernel", "dpkg-arch"}, func(h int, step string) *result.StepResult {
			name, arch := labHosts[h], labHosts[h]
			a, _ := host.ParseArch(arch)
			return map[string]*result.StepResult{
				"machine":   sh("uname -m", a.Kernel()+"\n"),
				"kernel":    sh("uname -a", "Linux "+name+" 6.18.44-fc-v1045 #1 SMP PREEMPT_DYNAMIC @0 "+a.Kernel()+" GNU/Linux\n"),
				"dpkg-arch": sh("dpkg --print-architecture", a.Debian()+"\n"),
			}[step]
		}),
		"eight-amd64": answers("eight amd64 hosts", eight, []string{"machine"}, func(h int, step string) *result.StepResult {
			return sh("uname -m", "x86_64\n")
		}),
		"eth0": answers("interface indexes", lab(), []string{"eth0", "docker-run"}, func(h int, step string) *result.StepResult {
			if step == "eth0" {
				return sh("ip -4 -brief addr show eth0", fmt.Sprintf("eth0@if%d       UP             10.213.0.%d/24 \n", 168+h, 11+h))
			}
			index := 5
			if labHosts[h] == "amd64" {
				index = 7
			}
			return &result.StepResult{Kind: "docker.run", Command: "docker run everywhere/debian:bookworm sh -c 'uname -m; ip -4 -brief addr show eth0'",
				Stdout: fmt.Sprintf("%s\neth0@if%d         UP             172.17.0.2/16 \n", kernelOf(labHosts[h]), index)}
		}),
		"wrong-arch": answers("one host answers another's arch", lab(), []string{"machine"}, func(h int, step string) *result.StepResult {
			if labHosts[h] == "i386" {
				return sh("uname -m", "x86_64\n")
			}
			return sh("uname -m", kernelOf(labHosts[h])+"\n")
		}),
		"failure": answers("a failure among successes", lab(), []string{"install"}, func(h int, step string) *result.StepResult {
			s := sh("apt-get install -y curl", "Reading package lists...\ncurl is already the newest version.\n")
			if labHosts[h] == "ppc64el" {
				s.Status, s.ExitCode, s.Stdout, s.Stderr = result.Failed, code(100), "Reading package lists...\n", "E: Unable to locate package curl\n"
			}
			return s
		}),
		// The default plan's steps as the lab answered them (docs/tiles.report.txt).
		"lab-default": answers("everywhere-default on the lab", lab(), []string{"eth0", "docker-images", "docker-run"}, func(h int, step string) *result.StepResult {
			switch step {
			case "eth0":
				return sh("ip -4 -brief addr show eth0 2>/dev/null || ifconfig eth0", fmt.Sprintf("eth0@if%d       UP             10.213.0.%d/24 \n", 296+h, 11+h))
			case "docker-images":
				image := [][3]string{{"ca4d56979897", "arm/v7", "350.6MB"}, {"6e2ad5760ee5", "arm64", "419.6MB"}, {"af8cf55fa832", "386", "382.1MB"},
					{"6e42b1841664", "amd64", "433.7MB"}, {"7bf8af38c78e", "ppc64le", "445.6MB"}, {"9f6cc460c192", "s390x", "403.0MB"}}[h]
				return &result.StepResult{Kind: "docker.images", Command: "docker images", Stdout: "everywhere/debian:bookworm  " + strings.Join(image[:], "  ") + "\n"}
			}
			s := &result.StepResult{Kind: "docker.run", Command: "docker run everywhere/debian:bookworm sh -c 'uname -m; ip -4 -brief addr show eth0'",
				Stdout: fmt.Sprintf("%s\neth0@if%d         UP             172.17.0.2/16 \n", kernelOf(labHosts[h]), map[bool]int{true: 7, false: 5}[labHosts[h] == "amd64"])}
			if labHosts[h] == "s390x" {
				s.Stderr = strings.Repeat("!!!Deficit 4, rta_len=1024\n", 3)
			}
			return s
		}),
		"distros": answers("hosts named after their distributions", [][2]string{{"debian", "amd64"}, {"ubuntu", "amd64"}, {"fedora", "amd64"}},
			[]string{"os-release", "id"}, func(h int, step string) *result.StepResult {
				name := []string{"debian", "ubuntu", "fedora"}[h]
				if step == "id" {
					return sh(". /etc/os-release; echo ID=$ID", "ID="+name+"\n")
				}
				return sh("cat /etc/os-release", osRelease[name])
			}),
	}
}

// views renders res in every view of the terminal, Markdown and JSON.
func views(t *testing.T, res *result.Result) map[string]string {
	t.Helper()
	out := map[string]string{
		"columns": side(t, res, SideOptions{Width: 320, Layout: LayoutColumns}),
		"groups":  side(t, res, SideOptions{Width: 120, Layout: LayoutGroups}),
		"panes":   side(t, res, SideOptions{Width: 150, Layout: LayoutPanes}),
		"panes40": side(t, res, SideOptions{Width: 40, Layout: LayoutPanes}),
	}
	for _, f := range []string{"md", "json", "html"} {
		var buf bytes.Buffer
		if err := Render(&buf, f, res, SideOptions{}); err != nil {
			t.Fatal(err)
		}
		out[f] = buf.String()
	}
	return out
}

// TestAnswersGolden: every view of each scenario, in one golden file a
// scenario (the JSON's groups; its hosts are the outputs as they came).
func TestAnswersGolden(t *testing.T) {
	for name, res := range scenarios() {
		t.Run(name, func(t *testing.T) {
			v := views(t, res)
			var doc result.Result
			if err := json.Unmarshal([]byte(v["json"]), &doc); err != nil {
				t.Fatal(err)
			}
			groups, _ := json.MarshalIndent(doc.Groups, "", "  ")
			var b strings.Builder
			for _, part := range []struct{ name, text string }{{"groups", v["groups"]}, {"columns", v["columns"]}, {"panes", v["panes"]}, {"md", v["md"]}, {"json groups", string(groups) + "\n"}} {
				fmt.Fprintf(&b, "==== %s ====\n%s\n", part.name, part.text)
			}
			golden(t, "answers-"+name+".golden", []byte(b.String()))
		})
	}
}

// TestAnswersAreVisible: what the scenarios are about is on screen.
func TestAnswersAreVisible(t *testing.T) {
	all := scenarios()
	grouped := func(name string) string {
		return side(t, all[name], SideOptions{Width: 120, Layout: LayoutGroups})
	}
	for _, want := range []string{"armv7l (armhf)", "aarch64 (arm64)", "i686 (i386)", "x86_64 (amd64)", "ppc64le (ppc64el)", "s390x (s390x)"} {
		if g := grouped("six-archs"); !strings.Contains(g, want) {
			t.Errorf("six archs: %q not shown:\n%s", want, g)
		}
	}
	if g := grouped("eight-amd64"); !strings.Contains(g, "      x86_64\n") || strings.Contains(g, "<arch>") {
		t.Errorf("eight amd64 hosts: x86_64 not shown as it is:\n%s", g)
	}
	if g := grouped("eth0"); strings.Contains(g, "≠") || !strings.Contains(g, "eth0@if168       UP             10.213.0.11/24  · armhf\n") {
		t.Errorf("eth0: an interface index made a host differ, or is not shown:\n%s", g)
	}
	if g := grouped("wrong-arch"); !strings.Contains(g, "  ≠ ✔ ok 0.12s · i386 (1)\n      x86_64\n") {
		t.Errorf("one host printing another arch's name is not marked:\n%s", g)
	}
	// On the lab's default plan only what really differs is marked: the
	// image sizes of docker-images, and s390x's stderr in docker-run.
	for _, rs := range compare.Run(all["lab-default"]) {
		var odd []string
		for i, h := range all["lab-default"].Hosts {
			if rs.Odd(i) {
				odd = append(odd, h.Name)
			}
		}
		want := map[string]string{"eth0": "", "docker-images": "armhf arm64 i386 amd64 ppc64el s390x", "docker-run": "s390x"}[rs.Name]
		if strings.Join(odd, " ") != want {
			t.Errorf("lab default plan, step %s: %v differ, want %q", rs.Name, odd, want)
		}
	}
	images := all["lab-default"]
	for i := range images.Hosts {
		s := &images.Hosts[i].Steps[1]
		s.Stdout = regexp.MustCompile(`[0-9.]+MB`).ReplaceAllString(s.Stdout, "400.0MB")
	}
	if rs := compare.Run(images)[1]; rs.Verdict != compare.Equal {
		t.Errorf("docker-images of one size: image ids and platforms made hosts differ: %+v", rs.Groups)
	}
	if g := grouped("distros"); strings.Contains(g, "<host>") || strings.Count(g, "≠") != 6 {
		t.Errorf("hosts named after their distributions agree, or are masked:\n%s", g)
	}
}

// marked is which hosts a view marks as differing, step by step: "step:
// host" lines, sorted.
type marked []string

func (m marked) String() string { sort.Strings(m); return strings.Join(m, "\n") }

// TestViewsAgreeOnWhoDiffers feeds each scenario to every view (columns,
// groups, panes, Markdown, JSON, the HTML page's embedded result) and
// reads back which hosts each marks: all say what compare.Run says.
func TestViewsAgreeOnWhoDiffers(t *testing.T) {
	cases := scenarios()
	cases["fixture"] = fixture()
	cases["fleet"] = fleet(12, 3)
	for name, res := range cases {
		t.Run(name, func(t *testing.T) {
			var want marked
			for _, rs := range compare.Run(res) {
				for i, h := range res.Hosts {
					if rs.Odd(i) {
						want = append(want, stepLabel(rs.Name, rs.Cleanup)+": "+h.Name)
					}
				}
			}
			v := views(t, res)
			got := map[string]marked{
				"columns": columnMarks(res, v["columns"]),
				"groups":  groupMarks(res, v["groups"]),
				"panes":   paneMarks(res, v["panes40"]),
				"md":      mdMarks(res, v["md"]),
				"json":    jsonMarks(t, v["json"]),
				"html":    htmlMarks(t, v["html"]),
			}
			for view, m := range got {
				if m.String() != want.String() {
					t.Errorf("%s marks\n%s\nthe comparison\n%s", view, m, want)
				}
			}
		})
	}
}

func stepLabel(name string, cleanup bool) string {
	if cleanup {
		return result.CleanupLabel(name)
	}
	return name
}

// columnMarks reads ≠ differs out of the columns (one band).
func columnMarks(res *result.Result, out string) marked {
	var m marked
	step, fresh := "", false
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "┼") {
			fresh = true
			continue
		}
		parts := strings.Split(l, "│")
		if len(parts) != len(res.Hosts)+1 {
			continue
		}
		if fresh {
			step, fresh = strings.TrimSpace(parts[0]), false
		}
		for i, p := range parts[1:] {
			if strings.TrimSpace(p) == "≠ differs" {
				m = append(m, step+": "+res.Hosts[i].Name)
			}
		}
	}
	return m
}

// groupMarks reads the ≠ blocks of the grouped view: their host lists.
func groupMarks(res *result.Result, out string) marked {
	var m marked
	byList := map[string][]string{} // a folded list of hosts → the names
	list := hostLister(res, 3*120)
	names := map[string]int{}
	for i, h := range res.Hosts {
		names[h.Name] = i
	}
	for _, rs := range compare.Run(res) {
		for _, g := range rs.Groups {
			var hs []string
			for _, h := range g.Hosts {
				hs = append(hs, res.Hosts[h].Name)
			}
			byList[list(g.Hosts)] = hs
		}
	}
	step := ""
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "layout:") {
			step = l
			continue
		}
		if rest, ok := strings.CutPrefix(l, "  ≠ "); ok {
			_, hosts, _ := strings.Cut(rest, " · ")
			for _, h := range byList[hosts] {
				m = append(m, step+": "+h)
			}
		}
	}
	return m
}

// paneMarks reads the panes one above the other (width 40): each host's
// title, then its steps' ▸ lines.
func paneMarks(res *result.Result, out string) marked {
	var m marked
	host := -1
	for _, l := range strings.Split(out, "\n") {
		if host+1 < len(res.Hosts) && strings.HasPrefix(l, " "+res.Hosts[host+1].Name+" (") {
			host++
			continue
		}
		if rest, ok := strings.CutPrefix(l, "▸ "); ok && strings.HasSuffix(l, " ≠ differs") && host >= 0 {
			step := regexp.MustCompile(` [✔✘⧖!-] .*$`).ReplaceAllString(rest, "")
			m = append(m, step+": "+res.Hosts[host].Name)
		}
	}
	return m
}

// mdMarks reads ≠ out of the Markdown table's cells.
func mdMarks(res *result.Result, out string) marked {
	var m marked
	for _, l := range strings.Split(out, "\n") {
		rest, ok := strings.CutPrefix(l, "| **")
		if !ok {
			continue
		}
		step, cells, _ := strings.Cut(rest, "** |")
		if step == "connect" {
			continue
		}
		for i, c := range strings.Split(strings.TrimSuffix(cells, " |"), " | ") {
			head, _, _ := strings.Cut(c, "<br>")
			if strings.HasSuffix(head, " ≠") {
				m = append(m, strings.ReplaceAll(step, "\\", "")+": "+res.Hosts[i].Name)
			}
		}
	}
	return m
}

func groupsMarks(groups []result.StepGroups) marked {
	var m marked
	for _, sg := range groups {
		for _, g := range sg.Groups {
			if g.Odd {
				for _, h := range g.Hosts {
					m = append(m, stepLabel(sg.Step, sg.Cleanup)+": "+h)
				}
			}
		}
	}
	return m
}

func jsonMarks(t *testing.T, out string) marked {
	var doc result.Result
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	return groupsMarks(doc.Groups)
}

// htmlMarks reads the groups of the result the page embeds.
func htmlMarks(t *testing.T, page string) marked {
	_, doc, _ := strings.Cut(page, `<script type="application/json" id="everywhere-result">`)
	doc, _, _ = strings.Cut(doc, "</script>")
	return jsonMarks(t, html.UnescapeString(doc))
}

// On 2,000 hosts each value of a legend cannot be shown: the legend says
// how many more there are, and stays a few rows.
func TestLegendOfAThousandValues(t *testing.T) {
	var hosts [][2]string
	for i := range 2000 {
		hosts = append(hosts, [2]string{fmt.Sprintf("web%d", i+1), "amd64"})
	}
	res := answers("many", hosts, []string{"eth0"}, func(h int, step string) *result.StepResult {
		return &result.StepResult{Kind: "shell", Command: "ip", Stdout: fmt.Sprintf("eth0@if%d UP\n", 100+h)}
	})
	out := side(t, res, SideOptions{Width: 120, Layout: LayoutGroups})
	if !strings.Contains(out, "      eth0@if<index> UP\n      <index>: 100 (web1) · 101 (web2)") || !strings.Contains(out, " more values") || strings.Count(out, "\n") > 20 {
		t.Errorf("legend of 2,000 values:\n%s", out)
	}
}
