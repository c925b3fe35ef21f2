package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"slices"

	"everywhere/internal/result"
	"everywhere/internal/text"
)

// JUnit XML as read by Jenkins, GitLab and GitHub test reporters: a
// testsuite per host, a testcase per step. A retried step is written as
// Maven Surefire writes a re-run test: a flaky one (passed on a retry)
// has no failure but a flakyFailure or flakyError per try that was not
// ok; one not ok on every try has its first try's failure and a
// rerunFailure or rerunError for each later one.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Hostname   string          `xml:"hostname,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure"`
	Error     *junitProblem `xml:"error"`
	Skipped   *junitProblem `xml:"skipped"`
	Flaky     []junitRerun  `xml:",omitempty"`
	Reruns    []junitRerun  `xml:",omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
	SystemErr string        `xml:"system-err,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Body    string `xml:",chardata"`
}

// junitRerun is one try of a retried step, as Surefire writes it:
// flakyFailure, flakyError, rerunFailure or rerunError.
type junitRerun struct {
	XMLName    xml.Name
	Message    string `xml:"message,attr"`
	Type       string `xml:"type,attr"`
	Time       string `xml:"time,attr"`
	StackTrace string `xml:"stackTrace,omitempty"`
	SystemOut  string `xml:"system-out,omitempty"`
	SystemErr  string `xml:"system-err,omitempty"`
}

// rerunOf is try t of a step that ran command, as the element prefix
// (flaky or rerun) with Failure or Error says.
func rerunOf(prefix string, t result.Try, command string) junitRerun {
	kind := "Failure"
	if t.Status == result.Error {
		kind = "Error"
	}
	return junitRerun{XMLName: xml.Name{Local: prefix + kind}, Message: text.Line(t.Reason), Type: string(t.Status), Time: seconds(t.DurationMS),
		StackTrace: text.Clean(command), SystemOut: text.Clean(t.Stdout), SystemErr: text.Clean(t.Stderr)}
}

func seconds(ms int64) string { return fmt.Sprintf("%.3f", float64(ms)/1000) }

// JUnit writes the result as JUnit XML, remote text neutralised (see
// text.Clean): what XML 1.0 cannot carry and what a CI page would hide.
func JUnit(w io.Writer, res *result.Result) error {
	doc := junitSuites{Name: text.Line(res.Plan), Time: seconds(res.DurationMS)}
	for _, h := range res.Hosts {
		suite := junitSuite{Name: text.Line(h.Name), Hostname: text.Line(h.Address), Timestamp: res.Started.Format("2006-01-02T15:04:05"),
			Properties: []junitProperty{{"arch", text.Line(h.Arch)}, {"run_id", text.Line(res.RunID)}}}
		var total int64
		classname := text.Line(res.Plan + "." + h.Name)
		if h.Error != "" {
			suite.Cases = append(suite.Cases, junitCase{Name: "connect", Classname: classname, Time: seconds(h.ConnectMS),
				Error: &junitProblem{Message: text.Line(h.Error), Type: "unreachable"}})
		}
		steps := append([]result.StepResult(nil), h.Steps...)
		for _, s := range h.Cleanup {
			s.Name = result.CleanupLabel(s.Name)
			steps = append(steps, s)
		}
		for _, s := range steps {
			total += s.DurationMS
			c := junitCase{Name: text.Line(s.Name), Classname: classname, Time: seconds(s.DurationMS),
				SystemOut: text.Clean(s.Stdout), SystemErr: text.Clean(s.Stderr)}
			problem := &junitProblem{Message: text.Line(s.Summary()), Type: string(s.Status), Body: text.Clean(s.Command)}
			if len(s.Tries) > 0 && !result.Passed(s.Status) {
				// Surefire's order: the first try is the failure, the
				// later ones (this last one too) its reruns.
				first := s.Tries[0]
				problem = &junitProblem{Message: text.Line(first.Reason), Type: string(first.Status), Body: text.Clean(s.Command)}
				for _, t := range slices.Concat(s.Tries[1:], []result.Try{result.TryOf(s)}) {
					c.Reruns = append(c.Reruns, rerunOf("rerun", t, s.Command))
				}
				s.Status = first.Status
			}
			switch s.Status {
			case result.Failed, result.Timeout:
				c.Failure = problem
			case result.Error:
				c.Error = problem
			case result.Skipped:
				c.Skipped = &junitProblem{Message: text.Line(s.Error)}
			case result.Flaky:
				for _, t := range s.Tries {
					c.Flaky = append(c.Flaky, rerunOf("flaky", t, s.Command))
				}
			}
			suite.Cases = append(suite.Cases, c)
		}
		for _, c := range suite.Cases {
			suite.Tests++
			switch {
			case c.Failure != nil:
				suite.Failures++
			case c.Error != nil:
				suite.Errors++
			case c.Skipped != nil:
				suite.Skipped++
			}
		}
		suite.Time = seconds(total + h.ConnectMS)
		doc.Tests += suite.Tests
		doc.Failures += suite.Failures
		doc.Errors += suite.Errors
		doc.Skipped += suite.Skipped
		doc.Suites = append(doc.Suites, suite)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
