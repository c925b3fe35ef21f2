package report

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/systeminfo"
	"github.com/chromedp/chromedp"

	"everywhere/internal/host"
	"everywhere/internal/result"
)

var htmlScreenshot = flag.String("html-screenshot", "", "BenchmarkHTMLInChromium: save the first screen of the page here as PNG")

// reviewFleet is hosts × 12 steps as a reviewer meets them: six
// architectures, labels, outputs of one to a dozen lines, durations that
// vary, and failures of a few kinds: a failed step (two reasons), a
// timeout, an unreachable host, a host that answers differently.
func reviewFleet(hosts int) *result.Result {
	archs := host.AllArchs()
	started := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	res := &result.Result{Schema: result.Schema, RunID: "20261207-100000-5eed5eed", Plan: "fleet review", Started: started, DurationMS: 93_000,
		Steps: []string{"kernel", "machine", "os", "disk", "memory", "eth0", "packages", "docker", "services", "time", "users", "uptime"}}
	commands := []string{"uname -a", "uname -m", "cat /etc/os-release", "df -h /", "free -m", "ip -4 addr show eth0",
		"dpkg -l | grep -c ^ii", "docker info --format '{{.ServerVersion}}'", "systemctl --failed --no-legend", "date -u +%F", "who | wc -l", "uptime -p"}
	for i := range hosts {
		a := archs[i%len(archs)]
		name := fmt.Sprintf("%s-%04d", a, i/len(archs)+1)
		h := result.HostResult{Name: name, Arch: string(a), Address: fmt.Sprintf("10.%d.%d.%d:22", 20+i/60000, i/250%240, i%250+1),
			Status: result.OK, ConnectMS: 80 + int64(i%37)*3, Labels: []string{"rack-" + strconv.Itoa(i%20+1), []string{"prod", "staging"}[i%7/6]}}
		outputs := []string{
			"Linux " + name + " 6.1.0-28-" + a.Debian() + " #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22) " + a.Kernel() + " GNU/Linux\n",
			a.Kernel() + "\n",
			"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL=\"https://www.debian.org/\"\n",
			fmt.Sprintf("Filesystem      Size  Used Avail Use%% Mounted on\n/dev/vda1        20G  %d.%dG  %dG  %d%% /\n", 3+i%9, i%10, 16-i%9, 15+i%45),
			fmt.Sprintf("               total        used        free      shared  buff/cache   available\nMem:            %d        %d        %d          12         512        %d\nSwap:              0           0           0\n", 4096, 300+i%700, 3000-i%700, 3700-i%700),
			fmt.Sprintf("2: eth0@if%d: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000\n    inet %s/16 brd 10.20.255.255 scope global eth0\n       valid_lft forever preferred_lft forever\n", 7+i, strings.TrimSuffix(h.Address, ":22")),
			strconv.Itoa(412+i%3) + "\n",
			"24.0.9+dfsg1\n",
			"",
			"2026-12-07\n",
			strconv.Itoa(i%3) + "\n",
			fmt.Sprintf("up %d days, %d hours, %d minutes\n", i%40, i%24, i%60),
		}
		for si, step := range res.Steps {
			s := result.StepResult{Name: step, Kind: "shell", Command: commands[si], Status: result.OK, ExitCode: code(0), Stdout: outputs[si],
				StdoutBytes: int64(len(outputs[si])), Started: started, DurationMS: 40 + int64((i*7+si*13)%90) + int64(si%3)*200}
			switch {
			case si == 3 && i%97 == 2:
				s.Status, s.ExitCode, s.Stdout, s.Stderr = result.Failed, code(1), "", "df: /: Input/output error\n"
			case si == 8 && i%53 == 3:
				s.Status, s.ExitCode = result.Failed, code(1)
				s.Stdout = "● apt-daily.service loaded failed failed Daily apt download activities\n● ssh.service     loaded failed failed OpenBSD Secure Shell server\n"
			case si == 7 && i%331 == 4:
				s.Status, s.ExitCode, s.DurationMS = result.Timeout, nil, 120_000
				s.Error, s.Signal = "no result within 2m0s (step timeout)", "KILL"
			case si == 1 && i == 5:
				s.Status, s.Stdout = result.Failed, "x86_64\n"
				s.Expectations = []result.Outcome{{Name: "arch_matches_host " + string(a), Detail: "host reports x86_64 (amd64), inventory declares " + string(a)}}
			}
			s.StderrBytes = int64(len(s.Stderr))
			h.Steps = append(h.Steps, s)
		}
		if i%500 == 6 {
			h.Status, h.Error, h.ConnectMS = result.Error, "host "+name+" ("+h.Address+"): unreachable: dial tcp "+h.Address+": connect: no route to host", 3000
			for si := range h.Steps {
				h.Steps[si] = result.StepResult{Name: res.Steps[si], Status: result.Skipped, Error: "host not reached"}
			}
		}
		for _, s := range h.Steps {
			if s.Status != result.OK && h.Status == result.OK {
				h.Status = s.Status
			}
		}
		res.Hosts = append(res.Hosts, h)
	}
	return res
}

// BenchmarkHTMLInChromium loads the page of a 2,000-host × 12-step result
// in headless chromium and measures what a reviewer waits for: the CPU
// chromium spends until the first screen is painted, the time from each
// toggle or filter to the next painted frame, and the renderer's peak
// memory. CPU is all of chromium's processes' (the renderer, the browser,
// the one that paints); wall time is as the page sees it, from the change
// to the next painted frame, and grows with the machine's load. Each
// iteration loads the page anew in a browser of its own:
//
//	go test -run '^$' -bench HTMLInChromium -benchtime=3x ./internal/report
func BenchmarkHTMLInChromium(b *testing.B) {
	res := reviewFleet(2000)
	file := writePage(b, res)
	info, err := os.Stat(file)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("page of %d hosts × %d steps: %.1f MiB", len(res.Hosts), len(res.Steps), float64(info.Size())/(1<<20))
	wall, cpu := map[string]float64{}, map[string]float64{} // the slowest of each toggle, ms
	var paintCPU, rendererCPU, nodes, peak float64
	for b.Loop() {
		// A browser of its own each time, so that one load's memory is not
		// another's.
		b.StopTimer()
		ctx := launch(b, 10*time.Minute)
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
			b.Fatal(err)
		}
		browserPID := chromedp.FromContext(ctx).Browser.Process().Pid
		b.StartTimer()
		before, err := treeCPU(browserPID)
		if err != nil {
			b.Fatal(err)
		}
		rBefore, _, err := renderer(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate("file://"+file), chromedp.WaitReady(chromedp.CSS("main .row"))); err != nil {
			b.Fatal(err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("(async () => { "+nextFrame+"; return true })()", chromedp.EvalAwaitPromise)); err != nil {
			b.Fatal(err)
		}
		after, err := treeCPU(browserPID)
		if err != nil {
			b.Fatal(err)
		}
		rAfter, _, err := renderer(ctx)
		if err != nil {
			b.Fatal(err)
		}
		paintCPU += after - before
		rendererCPU += rAfter - rBefore
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.getElementsByTagName("*").length`))
		if err != nil {
			b.Fatal(err)
		}
		nodes += float64(n)
		heap, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`performance.memory.usedJSHeapSize`))
		if err != nil {
			b.Fatal(err)
		}
		_, pid, err := renderer(ctx)
		if err != nil {
			b.Fatal(err)
		}
		rss, err := procStatus(pid, "VmRSS")
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("painted: JS heap %.0f MiB, renderer resident %.0f MiB", heap/(1<<20), rss/(1<<20))
		if *htmlScreenshot != "" {
			png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
			if err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(*htmlScreenshot, png, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		for _, tg := range htmlToggles {
			cpu0, err := treeCPU(browserPID)
			if err != nil {
				b.Fatal(err)
			}
			ms, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(async () => { const t0 = performance.now(); `+tg.js+`; `+nextFrame+`; return performance.now() - t0; })()`, chromedp.EvalAwaitPromise))
			if err != nil {
				b.Fatalf("%s: %v", tg.name, err)
			}
			cpu1, err := treeCPU(browserPID)
			if err != nil {
				b.Fatal(err)
			}
			wall[tg.name] = max(wall[tg.name], ms)
			cpu[tg.name] = max(cpu[tg.name], (cpu1-cpu0)*1000)
		}
		_, pid, err = renderer(ctx)
		if err != nil {
			b.Fatal(err)
		}
		hwm, err := procStatus(pid, "VmHWM")
		if err != nil {
			b.Fatal(err)
		}
		peak = max(peak, hwm)
		if err := chromedp.Cancel(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(paintCPU/float64(b.N), "paint-cpu-s")
	b.ReportMetric(rendererCPU/float64(b.N), "renderer-cpu-s")
	b.ReportMetric(nodes/float64(b.N), "dom-nodes")
	b.ReportMetric(peak/(1<<20), "renderer-peak-MiB")
	var worstWall, worstCPU float64
	table := "\ntoggle or filter         wall ms  chromium CPU ms\n"
	for _, tg := range htmlToggles {
		worstWall, worstCPU = max(worstWall, wall[tg.name]), max(worstCPU, cpu[tg.name])
		table += fmt.Sprintf("%-24s %7.0f  %7.0f\n", tg.name, wall[tg.name], cpu[tg.name])
	}
	fmt.Print(table) // b.Log keeps only a benchmark's first ten lines
	b.ReportMetric(worstWall, "slowest-toggle-ms")
	b.ReportMetric(worstCPU, "slowest-toggle-cpu-ms")
}

// nextFrame waits until the page has painted what a change drew.
const nextFrame = `await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)))`

// set changes a control of the page as a person would.
func set(name, value string) string {
	return fmt.Sprintf(`{ const e = document.querySelector(".filters [name=%s]"); e.value = %q; e.dispatchEvent(new Event("input", {bubbles: true})); }`, name, value)
}

// htmlToggles are the page's toggles and filters, in an order a reviewer
// might use them; each ends where the next begins.
var htmlToggles = []struct{ name, js string }{
	{"nothing (the floor)", "0"}, // what measuring costs
	{"failures only", set("status", "bad")},
	{"every status", set("status", "")},
	{"layout groups", `document.querySelector("[data-layout=groups]").click()`},
	{"groups: failures only", set("status", "bad")},
	{"groups: every status", set("status", "")},
	{"layout panes", `document.querySelector("[data-layout=panes]").click()`},
	{"layout columns", `document.querySelector("[data-layout=columns]").click()`},
	{"text search", set("q", "input/output error")},
	{"text search cleared", set("q", "")},
	{"host filter", set("host", "arm64-0*")},
	{"arch filter", set("arch", "s390x")},
	{"label filter", set("label", "staging")},
	{"step filter", set("step", "services")},
	{"clear filters", `document.querySelector("[data-clear]").click()`},
	{"reason", `document.querySelector(".reasons a").click()`},
	{"reason cleared", `document.querySelector(".reasons a").click()`},
	{"8 lines a cell", set("lines", "8")},
	{"3 lines a cell", set("lines", "3")},
	{"scroll to the end", `scrollTo(0, document.body.scrollHeight)`},
	{"open a cell", `document.querySelector("main .c").click()`},
	{"close the cell", `document.querySelector("#detail .close").click()`},
	{"scroll to the top", `scrollTo(0, 0)`},
}

// renderer is the CPU seconds and process id of the busiest renderer.
func renderer(ctx context.Context) (cpu float64, pid int, err error) {
	info, err := chromedp.CallBrowser(ctx, systeminfo.GetProcessInfo, cdp.Empty{})
	if err != nil {
		return 0, 0, err
	}
	for _, p := range info.ProcessInfo {
		if p.Type == "renderer" && p.CPUTime >= cpu {
			cpu, pid = p.CPUTime, int(p.ID)
		}
	}
	if pid == 0 {
		return 0, 0, fmt.Errorf("no renderer among %d processes", len(info.ProcessInfo))
	}
	return cpu, pid, nil
}

// treeCPU is the CPU seconds used by pid and every process under it,
// those already ended and reaped too (cutime, cstime).
func treeCPU(pid int) (float64, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	children := map[int][]int{}
	ticks := map[int]float64{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // ended since
		}
		// The fields after the command, which is in parentheses and may hold spaces.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) < 15 {
			continue
		}
		parent, _ := strconv.Atoi(f[1])
		children[parent] = append(children[parent], p)
		for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
			n, _ := strconv.ParseFloat(f[i], 64)
			ticks[p] += n
		}
	}
	var sum float64
	for todo := []int{pid}; len(todo) > 0; {
		p := todo[0]
		todo = append(todo[1:], children[p]...)
		sum += ticks[p]
	}
	return sum / 100, nil // USER_HZ
}

// procStatus is a memory figure of /proc/PID/status (VmRSS, VmHWM: the
// most ever resident), in bytes.
func procStatus(pid int, field string) (float64, error) {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}
