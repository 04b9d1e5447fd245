// Package managerproc runs the clientreg manager (the module's main package)
// as a real operating-system process for tests: built once per test process,
// started against an API server with given flags, its output captured to a
// file, stopped with SIGTERM or killed with SIGKILL, and measured (peak and
// current resident memory, CPU time) from /proc while it runs and from its
// resource usage once it has exited.
//
// Typical use:
//
//	bin := managerproc.Build(t)
//	p := managerproc.Start(t, managerproc.Options{Binary: bin, RestConfig: cfg, Args: []string{"--leader-elect=false"}})
//	...
//	if err := p.Kill(); err != nil { ... }
//
// Start registers a cleanup that stops a process still running when the test
// ends and, when the test failed, logs the tail of its output. Test support
// only; the memory and CPU accessors need Linux.
package managerproc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/clientreg/clientreg/internal/testutil"
)

// DefaultStopTimeout is how long Stop and the test cleanup wait after SIGTERM
// before they kill the process.
const DefaultStopTimeout = 30 * time.Second

// tailBytes is how much of a process's output a failed test shows.
const tailBytes = 8 << 10

var build struct {
	once sync.Once
	path string
	err  error
}

// Build builds the manager binary (`go build -o ... .` at the module root,
// as `make build` does) once per test process and returns its path,
// bin/managerproc/manager below the module root. Later calls in the same
// process return the same path without building. Test processes of other
// packages that build at the same time do not disturb each other: each
// builds into a file of its own and renames it into place, and a process
// already running the previous binary keeps it. Build fails t when the build
// fails.
func Build(t testing.TB) string {
	t.Helper()
	build.once.Do(func() { build.path, build.err = buildManager() })
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

func buildManager() (path string, err error) {
	defer func() {
		if r := recover(); r != nil { // testutil.RepoPath panics outside the module
			err = fmt.Errorf("building the manager: %v", r)
		}
	}()
	root := testutil.RepoPath()
	dir := filepath.Join(root, "bin", "managerproc")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("building the manager: %w", err)
	}
	final := filepath.Join(dir, "manager")
	tmp := filepath.Join(dir, fmt.Sprintf(".manager-%d", os.Getpid()))
	cmd := exec.Command("go", "build", "-o", tmp, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("building the manager (go build -o %s . in %s): %w\n%s", tmp, root, err, out)
	}
	if err := os.Rename(tmp, final); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("building the manager: %w", err)
	}
	return final, nil
}

// Options says how to start a process.
type Options struct {
	// Binary is the executable; empty means Build(t).
	Binary string
	// RestConfig is the API server the manager talks to: a kubeconfig is
	// written from it (see WriteKubeconfig) into the test's temporary
	// directory and passed as KUBECONFIG. Ignored when Kubeconfig is set.
	RestConfig *rest.Config
	// Kubeconfig is the path of a kubeconfig file, passed as KUBECONFIG.
	Kubeconfig string
	// Args are the command-line arguments.
	Args []string
	// Env holds KEY=value pairs added to the test process's environment
	// (later ones win).
	Env []string
	// Name names the process in messages and in the default log file name;
	// empty means "manager".
	Name string
	// LogFile receives the process's stdout and stderr (created or
	// truncated); empty means <Name>-<n>.log in the test's temporary
	// directory.
	LogFile string
}

// Proc is one started process.
type Proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{}
	// waitErr is cmd.Wait's result, valid once done is closed.
	waitErr error

	mu     sync.Mutex
	killed bool // ended by Kill
}

var seq struct {
	mu sync.Mutex
	n  int
}

// Start starts a process as opts says and returns at once (it does not wait
// for the manager to be ready). It fails t when the process cannot be
// started. When t ends, a process still running gets SIGTERM (and SIGKILL
// after DefaultStopTimeout) and is waited for; if t failed, the tail of the
// output of every process that was not ended by Kill is logged (a test that
// kills many processes on purpose decides itself which output to show).
func Start(t testing.TB, opts Options) *Proc {
	t.Helper()
	name := opts.Name
	if name == "" {
		name = "manager"
	}
	bin := opts.Binary
	if bin == "" {
		bin = Build(t)
	}
	env := os.Environ()
	kubeconfig := opts.Kubeconfig
	if kubeconfig == "" && opts.RestConfig != nil {
		kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
		if err := WriteKubeconfig(opts.RestConfig, kubeconfig); err != nil {
			t.Fatal(err)
		}
	}
	if kubeconfig != "" {
		env = append(env, "KUBECONFIG="+kubeconfig)
	}
	env = append(env, opts.Env...)

	logPath := opts.LogFile
	if logPath == "" {
		seq.mu.Lock()
		seq.n++
		n := seq.n
		seq.mu.Unlock()
		logPath = filepath.Join(t.TempDir(), fmt.Sprintf("%s-%d.log", name, n))
	}
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("%s: creating its log file: %v", name, err)
	}
	cmd := exec.Command(bin, opts.Args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		t.Fatalf("%s: starting %s: %v", name, bin, err)
	}
	p := &Proc{name: name, cmd: cmd, logPath: logPath, logFile: f, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.Stop(DefaultStopTimeout)
		if !t.Failed() {
			return
		}
		p.mu.Lock()
		killed := p.killed
		p.mu.Unlock()
		if killed {
			return // on purpose: its output is the test's business (LogPath)
		}
		t.Logf("%s (pid %d, %s) output, last %d bytes:\n%s", p.name, p.Pid(), p.exitDescription(), tailBytes, p.Tail(tailBytes))
	})
	return p
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited and been waited for.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to exit and returns what exec.Cmd.Wait
// returned: nil for exit status 0, an *exec.ExitError otherwise.
func (p *Proc) Wait() error {
	<-p.done
	return p.waitErr
}

// ProcessState is the exited process's state, nil while it runs.
func (p *Proc) ProcessState() *os.ProcessState {
	if !p.Exited() {
		return nil
	}
	return p.cmd.ProcessState
}

// Kill sends SIGKILL and waits until the process is gone. Killing a process
// that has already exited does nothing. It returns an error only when the
// signal could not be sent to a running process.
func (p *Proc) Kill() error {
	p.mu.Lock()
	p.killed = true
	p.mu.Unlock()
	if p.Exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing %s (pid %d): %w", p.name, p.Pid(), err)
	}
	<-p.done
	return nil
}

// Stop sends SIGTERM, waits up to timeout for the process to exit, then
// kills it. It returns the exit error (nil for status 0), or an error saying
// that the process had to be killed. Stopping a process that has already
// exited returns its exit error.
func (p *Proc) Stop(timeout time.Duration) error {
	if !p.Exited() {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("stopping %s (pid %d): %w", p.name, p.Pid(), err)
		}
		select {
		case <-p.done:
		case <-time.After(timeout):
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
			return fmt.Errorf("%s (pid %d) did not exit within %s of SIGTERM and was killed", p.name, p.Pid(), timeout)
		}
	}
	return p.waitErr
}

// LogPath is the file holding the process's stdout and stderr.
func (p *Proc) LogPath() string { return p.logPath }

// Log returns the process's output so far.
func (p *Proc) Log() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", p.logPath, err)
	}
	return string(b)
}

// Tail returns the last n bytes of the process's output so far, from the
// start of a line where there is one.
func (p *Proc) Tail(n int) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", p.logPath, err)
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", p.logPath, err)
	}
	off := max(st.Size()-int64(n), 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", p.logPath, err)
	}
	if off > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
			b = b[i+1:]
		}
	}
	return string(b)
}

func (p *Proc) exitDescription() string {
	if !p.Exited() {
		return "running"
	}
	if p.waitErr == nil {
		return "exited 0"
	}
	return p.waitErr.Error()
}

// PeakRSS returns the process's peak resident set size in bytes: VmHWM from
// /proc/<pid>/status while it runs, the maximum resident set size from its
// resource usage once it has exited.
func (p *Proc) PeakRSS() (uint64, error) {
	if st := p.ProcessState(); st != nil {
		return peakRSSOf(st)
	}
	v, err := p.statusField("VmHWM")
	if err != nil {
		if st := p.ProcessState(); st != nil { // exited meanwhile
			return peakRSSOf(st)
		}
	}
	return v, err
}

// RSS returns the process's current resident set size in bytes (VmRSS from
// /proc/<pid>/status). It fails once the process has exited.
func (p *Proc) RSS() (uint64, error) {
	if p.Exited() {
		return 0, fmt.Errorf("%s (pid %d) has exited: it has no current resident set", p.name, p.Pid())
	}
	return p.statusField("VmRSS")
}

// CPUTime returns the CPU time the process has used, user plus system:
// utime and stime from /proc/<pid>/stat while it runs, its resource usage
// once it has exited.
func (p *Proc) CPUTime() (time.Duration, error) {
	if st := p.ProcessState(); st != nil {
		return st.UserTime() + st.SystemTime(), nil
	}
	d, err := p.statCPU()
	if err != nil {
		if st := p.ProcessState(); st != nil {
			return st.UserTime() + st.SystemTime(), nil
		}
	}
	return d, err
}

// statusField reads a "kB" field of /proc/<pid>/status, in bytes.
func (p *Proc) statusField(field string) (uint64, error) {
	path := fmt.Sprintf("/proc/%d/status", p.Pid())
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading %s of %s: %w", field, p.name, err)
	}
	v, err := parseStatusKB(b, field)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// parseStatusKB returns the value of "<field>:   <n> kB" in bytes.
func parseStatusKB(status []byte, field string) (uint64, error) {
	for line := range strings.SplitSeq(string(status), "\n") {
		rest, ok := strings.CutPrefix(line, field+":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("unexpected %s line %q", field, line)
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("unexpected %s line %q: %w", field, line, err)
		}
		return n * 1024, nil
	}
	return 0, fmt.Errorf("no %s line", field)
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

func (p *Proc) statCPU() (time.Duration, error) {
	path := fmt.Sprintf("/proc/%d/stat", p.Pid())
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading the CPU time of %s: %w", p.name, err)
	}
	d, err := parseStatCPU(b)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// parseStatCPU returns utime+stime (fields 14 and 15) of a /proc/<pid>/stat
// line. The command name (field 2) is in parentheses and may hold spaces
// and parentheses, so fields are counted after its last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected stat line %q", s)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected stat line %q", s)
	}
	var ticks uint64
	for _, v := range f[11:13] { // fields 14 (utime) and 15 (stime)
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("unexpected stat line %q: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// WriteKubeconfig writes a kubeconfig file for cfg (server, CA, client
// certificate and key or bearer token, inline or as file paths) to path.
func WriteKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["cluster"] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.CAData,
		CertificateAuthority:     cfg.CAFile,
		InsecureSkipTLSVerify:    cfg.Insecure,
		TLSServerName:            cfg.ServerName,
	}
	kc.AuthInfos["user"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientCertificate:     cfg.CertFile,
		ClientKeyData:         cfg.KeyData,
		ClientKey:             cfg.KeyFile,
		Token:                 cfg.BearerToken,
		TokenFile:             cfg.BearerTokenFile,
		Username:              cfg.Username,
		Password:              cfg.Password,
	}
	kc.Contexts["default"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "user"}
	kc.CurrentContext = "default"
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}
