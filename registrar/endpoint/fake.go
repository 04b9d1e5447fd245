package endpoint

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/clientreg/clientreg/registrar/metadata"
)

// StaticResolver is a Resolver over a fixed list of servers (tests, and
// simple deployments). It also implements ServerLister.
type StaticResolver struct {
	servers []*Server
}

var (
	_ Resolver     = (*StaticResolver)(nil)
	_ ServerLister = (*StaticResolver)(nil)
)

// NewStaticResolver returns a resolver for servers.
func NewStaticResolver(servers ...*Server) *StaticResolver {
	return &StaticResolver{servers: append([]*Server(nil), servers...)}
}

// Lookup returns the server with the longest Path that equals path or is a
// prefix of it ending at a "/" boundary, or ErrNoServer.
func (s *StaticResolver) Lookup(_ context.Context, path string) (*Server, error) {
	var best *Server
	for _, srv := range s.servers {
		p := srv.Path
		if path != p && p != "" && !strings.HasPrefix(path, p+"/") {
			continue
		}
		if p == "" && path != "" && path[0] != '/' {
			continue
		}
		if best == nil || len(p) > len(best.Path) {
			best = srv
		}
	}
	if best == nil {
		return nil, ErrNoServer
	}
	return best, nil
}

// Servers returns every server.
func (s *StaticResolver) Servers(context.Context) ([]*Server, error) {
	return append([]*Server(nil), s.servers...), nil
}

// FakeStore is an in-memory Store for tests. The zero value is ready to use;
// it is safe for concurrent use.
type FakeStore struct {
	// Clock stamps client_id_issued_at; nil means the real time.
	Clock Clock
	// SecretLifetime, when positive, sets client_secret_expires_at.
	SecretLifetime time.Duration
	// Err, when set, is called before every operation ("create", "get",
	// "update", "delete", "count", "find"); a non-nil result is returned instead.
	Err func(op string) error

	mu   sync.Mutex
	regs map[string]*Registration // by server path + "\x00" + handle
	ops  int
}

var (
	_ Store          = (*FakeStore)(nil)
	_ SoftwareFinder = (*FakeStore)(nil)
)

func fakeKey(srv *Server, handle string) string { return srv.Path + "\x00" + handle }

func (f *FakeStore) now() time.Time {
	if f.Clock != nil {
		return f.Clock.Now()
	}
	return time.Now()
}

func (f *FakeStore) hook(op string) error {
	if f.Err != nil {
		return f.Err(op)
	}
	return nil
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("fake store: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func copyRegistration(r *Registration) *Registration {
	c := *r
	c.Metadata = r.Metadata.DeepCopy()
	return &c
}

// Create stores a registration with a random handle, client id and (when the
// metadata needs one) 256-bit secret.
func (f *FakeStore) Create(_ context.Context, srv *Server, md *metadata.Metadata, softwareStatement string, ratHash [32]byte) (*Registration, error) {
	if err := f.hook("create"); err != nil {
		return nil, err
	}
	hb := make([]byte, 10)
	if _, err := rand.Read(hb); err != nil {
		return nil, fmt.Errorf("fake store: random: %w", err)
	}
	handle := "reg-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(hb))
	id, err := randomString(16)
	if err != nil {
		return nil, err
	}
	now := f.now().UTC().Truncate(time.Second)
	reg := &Registration{
		Handle:            handle,
		ClientID:          "client-" + id,
		ClientIDIssuedAt:  now,
		Metadata:          md.DeepCopy(),
		SoftwareStatement: softwareStatement,
		RATHash:           ratHash,
	}
	if md.NeedsSecret() {
		if reg.ClientSecret, err = randomString(32); err != nil {
			return nil, err
		}
		if f.SecretLifetime > 0 {
			reg.ClientSecretExpiresAt = now.Add(f.SecretLifetime)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.regs == nil {
		f.regs = map[string]*Registration{}
	}
	f.regs[fakeKey(srv, handle)] = reg
	f.ops++
	return copyRegistration(reg), nil
}

// Get returns a copy of the registration, or ErrNotFound.
func (f *FakeStore) Get(_ context.Context, srv *Server, handle string) (*Registration, error) {
	return f.stored("get", srv, handle, func(reg *Registration) (*Registration, error) {
		return copyRegistration(reg), nil
	})
}

// stored runs the hook of op, then fn with f.mu held and the registration
// stored under srv and handle; ErrNotFound when there is none.
func (f *FakeStore) stored(op string, srv *Server, handle string, fn func(reg *Registration) (*Registration, error)) (*Registration, error) {
	if err := f.hook(op); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	reg, ok := f.regs[fakeKey(srv, handle)]
	if !ok {
		return nil, ErrNotFound
	}
	return fn(reg)
}

// Update replaces the metadata (unless md is nil) and the token hash (unless
// newRATHash is nil). A client that newly needs a secret gets one; a secret
// is otherwise kept.
func (f *FakeStore) Update(_ context.Context, srv *Server, handle string, md *metadata.Metadata, newRATHash *[32]byte) (*Registration, error) {
	return f.stored("update", srv, handle, func(reg *Registration) (*Registration, error) {
		next := copyRegistration(reg)
		if md != nil {
			next.Metadata = md.DeepCopy()
			next.SoftwareStatement = md.SoftwareStatement
			if md.NeedsSecret() && next.ClientSecret == "" {
				s, err := randomString(32)
				if err != nil {
					return nil, err
				}
				next.ClientSecret = s
			}
		}
		if newRATHash != nil {
			next.RATHash = *newRATHash
		}
		f.regs[fakeKey(srv, handle)] = next
		f.ops++
		return copyRegistration(next), nil
	})
}

// Delete removes the registration, or returns ErrNotFound.
func (f *FakeStore) Delete(_ context.Context, srv *Server, handle string) error {
	if err := f.hook("delete"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := fakeKey(srv, handle)
	if _, ok := f.regs[k]; !ok {
		return ErrNotFound
	}
	delete(f.regs, k)
	f.ops++
	return nil
}

// Count returns the number of registrations of srv.
func (f *FakeStore) Count(_ context.Context, srv *Server) (int, error) {
	if err := f.hook("count"); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for k := range f.regs {
		if strings.HasPrefix(k, srv.Path+"\x00") {
			n++
		}
	}
	return n, nil
}

// FindSoftware returns the handles of srv's registrations with this
// software_id and software_version (hook "find").
func (f *FakeStore) FindSoftware(_ context.Context, srv *Server, softwareID, softwareVersion string) ([]string, error) {
	if err := f.hook("find"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k, r := range f.regs {
		handle, ok := strings.CutPrefix(k, srv.Path+"\x00")
		if ok && r.Metadata != nil && r.Metadata.SoftwareID == softwareID && r.Metadata.SoftwareVersion == softwareVersion {
			out = append(out, handle)
		}
	}
	return out, nil
}

// Len returns the number of registrations of every server.
func (f *FakeStore) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.regs)
}

// Writes returns the number of successful Create, Update and Delete calls.
func (f *FakeStore) Writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ops
}

// Snapshot returns a digest of the whole store content (handles, client ids,
// secrets, metadata, token hashes); equal snapshots mean nothing changed.
func (f *FakeStore) Snapshot() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := make([]string, 0, len(f.regs))
	for k := range f.regs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		r := f.regs[k]
		var md []byte
		if r.Metadata != nil {
			md, _ = r.Metadata.MarshalJSON()
		}
		fmt.Fprintf(h, "%q %q %q %d %d %x %q %s\n", k, r.ClientID, r.ClientSecret,
			r.ClientIDIssuedAt.Unix(), r.ClientSecretExpiresAt.Unix(), r.RATHash, r.SoftwareStatement, md)
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Registrations returns copies of every registration of srv, by handle.
func (f *FakeStore) Registrations(srv *Server) map[string]*Registration {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]*Registration{}
	for k, r := range f.regs {
		if strings.HasPrefix(k, srv.Path+"\x00") {
			out[r.Handle] = copyRegistration(r)
		}
	}
	return out
}
