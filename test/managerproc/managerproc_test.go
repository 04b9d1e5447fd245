//go:build linux

package managerproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// The tests start this test binary again as the child process (the helper
// below): a process whose memory, CPU time, arguments and way of ending the
// tests choose, so that every accessor is checked against a known value.
const helperEnv = "MANAGERPROC_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		helperMain()
		return
	}
	os.Exit(m.Run())
}

// helperMain prints its arguments and KUBECONFIG, exits with HELPER_EXIT if
// set, else holds HELPER_ALLOC_MIB MiB resident, burns HELPER_CPU_MS of CPU,
// prints "ready" and waits for SIGTERM (then prints "got SIGTERM" and exits
// 0). It gives up after a minute on its own.
func helperMain() {
	fmt.Printf("args: %q\n", os.Args[1:])
	fmt.Printf("KUBECONFIG=%s\n", os.Getenv("KUBECONFIG"))
	fmt.Printf("echo: %s\n", os.Getenv("HELPER_ECHO"))
	if code := os.Getenv("HELPER_EXIT"); code != "" {
		n, _ := strconv.Atoi(code)
		fmt.Fprintln(os.Stderr, "exiting on request")
		os.Exit(n)
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	mib, _ := strconv.Atoi(os.Getenv("HELPER_ALLOC_MIB"))
	mem := make([]byte, mib<<20)
	for i := 0; i < len(mem); i += 4096 {
		mem[i] = 1 // touch every page: resident, not just reserved
	}
	cpu, _ := strconv.Atoi(os.Getenv("HELPER_CPU_MS"))
	x := 0
	for used := time.Duration(0); used < time.Duration(cpu)*time.Millisecond; {
		for i := 0; i < 1_000_000; i++ {
			x += i
		}
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			fmt.Println("getrusage:", err)
			os.Exit(2)
		}
		used = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	fmt.Println("ready", x%2)
	select {
	case <-term:
		fmt.Println("got SIGTERM", len(mem))
		os.Exit(0)
	case <-time.After(time.Minute):
		fmt.Println("nobody stopped me")
		os.Exit(4)
	}
}

func startHelper(t *testing.T, opts Options, env ...string) *Proc {
	t.Helper()
	opts.Binary = os.Args[0]
	opts.Name = "helper"
	opts.Env = append([]string{helperEnv + "=1"}, env...)
	return Start(t, opts)
}

// waitLog waits until the process's output holds s.
func waitLog(t *testing.T, p *Proc, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.Log(), s) {
		if p.Exited() {
			t.Fatalf("the process exited (%v) before printing %q; output:\n%s", p.Wait(), s, p.Log())
		}
		if time.Now().After(deadline) {
			t.Fatalf("the process did not print %q within 30s; output:\n%s", s, p.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procSlack is how much less CPU time /proc may show than getrusage.
const procSlack = 50 * time.Millisecond

func TestKillAndResourceUsage(t *testing.T) {
	const mib, cpu = 64, 300 * time.Millisecond
	p := startHelper(t, Options{}, fmt.Sprintf("HELPER_ALLOC_MIB=%d", mib), fmt.Sprintf("HELPER_CPU_MS=%d", cpu.Milliseconds()))
	waitLog(t, p, "ready")

	rss, peak, used := must(p.RSS())(t), must(p.PeakRSS())(t), must(p.CPUTime())(t)
	t.Logf("running: RSS %d MiB, peak %d MiB, CPU %s", rss>>20, peak>>20, used)
	if rss < mib<<20 || peak < rss {
		t.Errorf("RSS %d, peak %d bytes: want peak >= RSS >= %d MiB (the helper holds that much)", rss, peak, mib)
	}
	// /proc counts in 10ms ticks and splits the scheduler's exact runtime
	// into utime and stime by sampling, so it may show a little less than
	// the exact figure the helper waited for.
	if used < cpu-procSlack {
		t.Errorf("CPU time %s, want at least %s (the helper burnt %s before printing ready)", used, cpu-procSlack, cpu)
	}

	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if !p.Exited() {
		t.Fatal("Kill returned before the process was gone")
	}
	var exit *exec.ExitError
	if err := p.Wait(); !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("Wait after Kill = %v, want death by SIGKILL", err)
	}
	if strings.Contains(p.Log(), "got SIGTERM") {
		t.Error("Kill sent SIGTERM")
	}
	if err := p.Kill(); err != nil {
		t.Errorf("a second Kill: %v", err)
	}
	if _, err := p.RSS(); err == nil {
		t.Error("RSS of an exited process did not fail")
	}
	peakAfter, usedAfter := must(p.PeakRSS())(t), must(p.CPUTime())(t)
	t.Logf("exited: peak %d MiB, CPU %s", peakAfter>>20, usedAfter)
	if peakAfter < mib<<20 {
		t.Errorf("peak RSS after exit %d bytes, want at least %d MiB", peakAfter, mib)
	}
	if usedAfter < used {
		t.Errorf("CPU time after exit %s, less than %s while running", usedAfter, used)
	}
}

// must returns a function that returns v, or fails t with err.
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func TestStopArgumentsEnvironmentAndKubeconfig(t *testing.T) {
	cfg := &rest.Config{
		Host: "https://127.0.0.1:6443",
		TLSClientConfig: rest.TLSClientConfig{
			CAData: []byte("ca-bytes"), CertData: []byte("cert-bytes"), KeyData: []byte("key-bytes"),
		},
	}
	p := startHelper(t, Options{RestConfig: cfg, Args: []string{"--flag=a b", "c"}}, "HELPER_ECHO=hello")
	waitLog(t, p, "ready")
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatalf("Stop: %v; output:\n%s", err, p.Log())
	}
	out := p.Log()
	for _, want := range []string{`args: ["--flag=a b" "c"]`, "echo: hello", "got SIGTERM"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasSuffix(filepath.Base(p.LogPath()), ".log") || !strings.HasPrefix(filepath.Base(p.LogPath()), "helper-") {
		t.Errorf("log file %s, want helper-<n>.log", p.LogPath())
	}
	_, path, ok := strings.Cut(out, "KUBECONFIG=")
	if !ok {
		t.Fatalf("no KUBECONFIG in the output:\n%s", out)
	}
	path, _, _ = strings.Cut(path, "\n")
	got, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("loading the kubeconfig the process got: %v", err)
	}
	if got.Host != cfg.Host || string(got.CAData) != "ca-bytes" || string(got.CertData) != "cert-bytes" || string(got.KeyData) != "key-bytes" {
		t.Errorf("kubeconfig gives host %q, CA %q, cert %q, key %q", got.Host, got.CAData, got.CertData, got.KeyData)
	}
}

func TestExitStatus(t *testing.T) {
	p := startHelper(t, Options{}, "HELPER_EXIT=3")
	var exit *exec.ExitError
	if err := p.Wait(); !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("Wait = %v, want exit status 3", err)
	}
	if err := p.Stop(time.Second); !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("Stop of an exited process = %v, want its exit status 3", err)
	}
	if st := p.ProcessState(); st == nil || st.ExitCode() != 3 {
		t.Errorf("ProcessState = %v", st)
	}
	if !strings.Contains(p.Tail(20), "exiting on request") {
		t.Errorf("Tail(20) = %q", p.Tail(20))
	}
}

func TestParseProcFiles(t *testing.T) {
	// The command name may hold spaces and parentheses.
	stat := "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 100 1000 10 18446744073709551615\n"
	d, err := parseStatCPU([]byte(stat))
	if err != nil || d != 3250*time.Millisecond {
		t.Errorf("parseStatCPU = %s, %v; want 3.25s", d, err)
	}
	if _, err := parseStatCPU([]byte("4242 (x) S 1 2")); err == nil {
		t.Error("a short stat line parsed")
	}
	status := "Name:\tmanager\nVmPeak:\t 2000 kB\nVmHWM:\t   1536 kB\nVmRSS:\t    512 kB\n"
	if v, err := parseStatusKB([]byte(status), "VmHWM"); err != nil || v != 1536*1024 {
		t.Errorf("VmHWM = %d, %v", v, err)
	}
	if v, err := parseStatusKB([]byte(status), "VmRSS"); err != nil || v != 512*1024 {
		t.Errorf("VmRSS = %d, %v", v, err)
	}
	if _, err := parseStatusKB([]byte(status), "VmSwap"); err == nil {
		t.Error("a missing field parsed")
	}
}

// TestBuild builds the real manager and asks it for its flags.
func TestBuild(t *testing.T) {
	bin := Build(t)
	if again := Build(t); again != bin {
		t.Errorf("second Build = %s, first %s", again, bin)
	}
	out, _ := exec.Command(bin, "--help").CombinedOutput()
	for _, flag := range []string{"-leader-elect", "-registration-base-url", "-metrics-bind-address"} {
		if !strings.Contains(string(out), flag) {
			t.Errorf("%s --help does not list %s:\n%s", bin, flag, out)
		}
	}
}
