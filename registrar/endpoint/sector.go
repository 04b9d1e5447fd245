package endpoint

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"syscall"
	"time"

	"github.com/clientreg/clientreg/registrar/metadata"
)

// Limits of the sector identifier fetch (SEC-13).
const (
	sectorTimeout  = 5 * time.Second
	sectorMaxBytes = 64 << 10
)

// SectorIdentifierFetcher fetches an OpenID Connect sector identifier
// document (OIDC Registration §5): a JSON array of redirect URIs.
type SectorIdentifierFetcher func(ctx context.Context, uri string) ([]string, error)

// errPrivateAddress is returned when a fetch would reach a non-public address.
var errPrivateAddress = errors.New("refusing to connect to a non-public address")

// FetchSectorIdentifier is the default SectorIdentifierFetcher (SEC-13): https
// only, TLS 1.2 minimum, no proxy, no redirects, connections only to public
// unicast addresses (checked on the resolved address, so DNS names pointing
// at loopback, private, link-local or metadata addresses are refused), a 5 s
// timeout and a 64 KiB body cap. The answer must be 200 with a JSON array of
// strings.
func FetchSectorIdentifier(ctx context.Context, uri string) ([]string, error) {
	dialer := &net.Dialer{Timeout: sectorTimeout, Control: refusePrivate}
	client := &http.Client{
		Timeout: sectorTimeout,
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:    sectorTimeout,
			DisableKeepAlives:      true,
			MaxResponseHeaderBytes: 16 << 10,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, fmt.Errorf("sector identifier request: %w", err)
	}
	if req.URL.Scheme != "https" {
		return nil, errors.New("sector identifier: https is required")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sector identifier fetch: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("sector identifier fetch: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, sectorMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("sector identifier read: %w", err)
	}
	if len(body) > sectorMaxBytes {
		return nil, errors.New("sector identifier document is too large")
	}
	var uris []string
	if err := json.Unmarshal(body, &uris); err != nil {
		return nil, fmt.Errorf("sector identifier document: %w", err)
	}
	return uris, nil
}

// refusePrivate is a net.Dialer Control function that refuses every address
// that is not public unicast.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	if !publicAddr(ip) {
		return errPrivateAddress
	}
	return nil
}

// nonPublicPrefixes are special-purpose ranges netip's predicates miss.
var nonPublicPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("2001:db8::/32"),
}

// publicAddr reports whether ip is a public unicast address.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.Zone() != "" || !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() ||
		ip.IsLinkLocalUnicast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range nonPublicPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// checkSectorIdentifier fetches md.SectorIdentifierURI, when set, and checks
// that it lists every redirect URI (OIDC Registration §5, REG-39). A fetch
// failure is invalid_client_metadata; a redirect URI missing from the
// document is invalid_redirect_uri.
func (h *Handler) checkSectorIdentifier(ctx context.Context, md *metadata.Metadata) error {
	if md.SectorIdentifierURI == "" {
		return nil
	}
	fetch := h.SectorIdentifierFetcher
	if fetch == nil {
		fetch = FetchSectorIdentifier
	}
	ctx, cancel := context.WithTimeout(ctx, sectorTimeout)
	defer cancel()
	uris, err := fetch(ctx, md.SectorIdentifierURI)
	if err != nil {
		h.log("sector identifier fetch failed", "error", err.Error())
		return metadata.ErrorList{{Member: "sector_identifier_uri", Index: -1,
			Code: metadata.CodeInvalidClientMetadata, Detail: "could not be fetched as a JSON array of redirect URIs"}}
	}
	var errs metadata.ErrorList
	for i, u := range md.RedirectURIs {
		if !slices.Contains(uris, u) {
			errs = append(errs, &metadata.FieldError{Member: "redirect_uris", Index: i,
				Code: metadata.CodeInvalidRedirectURI, Detail: "is not listed in the sector identifier document"})
		}
	}
	return errs.Err()
}
