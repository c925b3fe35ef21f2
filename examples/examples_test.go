// Package examples holds configurations of engines that run everywhere's
// shards (a GitHub Actions matrix, a Kubernetes Indexed Job); its tests
// check what can be checked without those engines: the keys they need, and
// that the shards they start cover every index once.
package examples

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"everywhere/internal/shard"
)

type workflowStep struct {
	Name string            `yaml:"name"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	If   string            `yaml:"if"`
	With map[string]string `yaml:"with"`
}

type workflowJob struct {
	RunsOn   string `yaml:"runs-on"`
	Needs    string `yaml:"needs"`
	If       string `yaml:"if"`
	Strategy struct {
		FailFast *bool            `yaml:"fail-fast"`
		Matrix   map[string][]int `yaml:"matrix"`
	} `yaml:"strategy"`
	Steps []workflowStep `yaml:"steps"`
}

// step is the job's first step whose uses or run contains s.
func (j workflowJob) step(t *testing.T, s string) workflowStep {
	t.Helper()
	for _, st := range j.Steps {
		if strings.Contains(st.Uses, s) || strings.Contains(st.Run, s) {
			return st
		}
	}
	t.Fatalf("no step using or running %q", s)
	return workflowStep{}
}

// shardFlag is the value of --shard in command.
func shardFlag(t *testing.T, command string) string {
	t.Helper()
	fields := strings.Fields(command)
	i := slices.Index(fields, "--shard")
	if i < 0 || i+1 == len(fields) {
		t.Fatalf("no --shard in %q", command)
	}
	return fields[i+1]
}

// covers checks that shards are 0/n … n-1/n, each once.
func covers(t *testing.T, shards []shard.Shard, n int) {
	t.Helper()
	var want []shard.Shard
	for i := range n {
		want = append(want, shard.Shard{Index: i, Count: n})
	}
	if !slices.Equal(shards, want) {
		t.Errorf("the jobs run shards %v, want %v", shards, want)
	}
}

func TestGitHubActionsWorkflow(t *testing.T) {
	data, err := os.ReadFile("github-actions/everywhere.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		On   map[string]any         `yaml:"on"`
		Jobs map[string]workflowJob `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatal(err)
	}
	if len(wf.On) == 0 {
		t.Error("no triggers (on:)")
	}
	for id, j := range wf.Jobs {
		if j.RunsOn == "" || len(j.Steps) == 0 {
			t.Errorf("job %s: runs-on %q, %d steps", id, j.RunsOn, len(j.Steps))
		}
		for i, st := range j.Steps {
			if (st.Uses == "") == (st.Run == "") {
				t.Errorf("job %s step %d: give uses or run, one of them", id, i)
			}
		}
	}
	shards, merge := wf.Jobs["shard"], wf.Jobs["merge"]
	indexes := shards.Strategy.Matrix["shard"]
	if len(indexes) == 0 || shards.Strategy.FailFast == nil || *shards.Strategy.FailFast {
		t.Fatalf("jobs.shard.strategy: %+v; want a matrix of shards and fail-fast: false", shards.Strategy)
	}
	// What each job of the matrix runs, its expressions expanded as GitHub
	// would: strategy.job-total is the matrix's size.
	run := shards.step(t, "everywhere run")
	var got []shard.Shard
	for _, i := range indexes {
		command := strings.NewReplacer("${{ matrix.shard }}", strconv.Itoa(i), "${{ strategy.job-total }}", strconv.Itoa(len(indexes))).Replace(run.Run)
		s, err := shard.Parse(shardFlag(t, command), func(string) string { return "" })
		if err != nil {
			t.Fatalf("matrix.shard %d: %v", i, err)
		}
		got = append(got, s)
	}
	covers(t, got, len(indexes))
	upload := shards.step(t, "actions/upload-artifact")
	if !strings.Contains(run.Run, "-o out") || upload.With["path"] != "out/result.json" || upload.If != "always()" {
		t.Errorf("the shard's result is not uploaded whatever its exit code: run %q, upload %+v", run.Run, upload)
	}
	if merge.Needs != "shard" || merge.If != "always()" {
		t.Errorf("merge job: needs %q, if %q; want shard and always()", merge.Needs, merge.If)
	}
	download := merge.step(t, "actions/download-artifact")
	if ok, _ := path.Match(download.With["pattern"], strings.ReplaceAll(upload.With["name"], "${{ matrix.shard }}", "0")); !ok {
		t.Errorf("download pattern %q does not match the uploads, %q", download.With["pattern"], upload.With["name"])
	}
	mergeRun := merge.step(t, "everywhere report merge")
	if !strings.Contains(mergeRun.Run, download.With["path"]+"/*/result.json") || !strings.Contains(mergeRun.Run, "-o merged") {
		t.Errorf("merge runs %q: want every downloaded result and -o merged", mergeRun.Run)
	}
	if junit := merge.step(t, "action-junit-report"); junit.With["report_paths"] != "merged/junit.xml" || junit.If != "always()" {
		t.Errorf("JUnit published from %q, if %q", junit.With["report_paths"], junit.If)
	}
}

type container struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
}

type manifest struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		CompletionMode   string `yaml:"completionMode"`
		Completions      *int   `yaml:"completions"`
		Parallelism      *int   `yaml:"parallelism"`
		PodFailurePolicy struct {
			Rules []struct {
				OnExitCodes struct {
					ContainerName string `yaml:"containerName"`
				} `yaml:"onExitCodes"`
			} `yaml:"rules"`
		} `yaml:"podFailurePolicy"`
		Template struct {
			Spec struct {
				RestartPolicy string      `yaml:"restartPolicy"`
				Containers    []container `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// job is file's one Job.
func job(t *testing.T, file string) manifest {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var jobs []manifest
	for d := yaml.NewDecoder(bytes.NewReader(data)); ; {
		var m manifest
		if err := d.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if m.APIVersion == "" || m.Kind == "" || m.Metadata.Name == "" {
			t.Errorf("%s: a document without apiVersion, kind or metadata.name", file)
		}
		if m.Kind == "Job" {
			jobs = append(jobs, m)
		}
	}
	if len(jobs) != 1 {
		t.Fatalf("%s: %d Jobs, want 1", file, len(jobs))
	}
	j := jobs[0]
	if j.APIVersion != "batch/v1" || j.Spec.Template.Spec.RestartPolicy != "Never" || len(j.Spec.Template.Spec.Containers) != 1 || j.Spec.Template.Spec.Containers[0].Image == "" {
		t.Errorf("%s: Job %+v: want batch/v1, restartPolicy Never, one container with an image", file, j)
	}
	return j
}

func TestKubernetesIndexedJob(t *testing.T) {
	j := job(t, "kubernetes/shards.yaml")
	s := j.Spec
	if s.CompletionMode != "Indexed" || s.Completions == nil || s.Parallelism == nil || *s.Parallelism < 1 {
		t.Fatalf("spec: completionMode %q, completions %v, parallelism %v", s.CompletionMode, s.Completions, s.Parallelism)
	}
	c := s.Template.Spec.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	script := strings.Join(append(c.Command, c.Args...), " ")
	// Each pod as the Job controller starts it: JOB_COMPLETION_INDEX from
	// 0 to completions-1, beside the container's own variables.
	var got []shard.Shard
	outputs := map[string]bool{}
	for i := range *s.Completions {
		podEnv := func(name string) string {
			if name == shard.KubernetesIndex {
				return strconv.Itoa(i)
			}
			return env[name]
		}
		sh, err := shard.Parse(shardFlag(t, script), podEnv)
		if err != nil {
			t.Fatalf("pod %d: %v", i, err)
		}
		got = append(got, sh)
		outputs[os.Expand(script, podEnv)] = true
	}
	covers(t, got, *s.Completions)
	if len(outputs) != *s.Completions || !strings.Contains(script, `-o "/results/shard-$JOB_COMPLETION_INDEX"`) {
		t.Errorf("the pods do not save their results apart: %q", script)
	}
	for _, r := range s.PodFailurePolicy.Rules {
		if r.OnExitCodes.ContainerName != c.Name {
			t.Errorf("podFailurePolicy names container %q, the Job's is %q", r.OnExitCodes.ContainerName, c.Name)
		}
	}

	merge := job(t, "kubernetes/merge.yaml")
	mc := merge.Spec.Template.Spec.Containers[0]
	mergeScript := strings.Join(append(mc.Command, mc.Args...), " ")
	if !strings.Contains(mergeScript, "everywhere report merge /results/shard-*/result.json") {
		t.Fatalf("merge runs %q", mergeScript)
	}
	if ok, _ := path.Match("/results/shard-*", "/results/shard-"+strconv.Itoa(*s.Completions-1)); !ok {
		t.Error("the merge's pattern misses the shards' results")
	}
}
