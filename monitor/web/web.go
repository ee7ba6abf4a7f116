// Package web serves a monitor over HTTP: /metrics (Prometheus text), /api/v1/alerts
// (JSON), /healthz (liveness) and a dashboard (html/template, embedded assets, no
// script, a strict Content-Security-Policy). Everything but /healthz needs the bearer
// token, as an Authorization header or the cookie the login form sets; every
// authorised request is written to the audit log (who, when, what).
package web

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pgmedic/pgmedic/monitor"
	"github.com/pgmedic/pgmedic/pgconn"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Options configure the server.
type Options struct {
	Listen string
	// Token grants everything; ViewerToken everything but statement texts.
	Token       string
	ViewerToken string
	TLSCert     string
	TLSKey      string
	// Audit receives one record per authorised request and per refused one.
	Audit *slog.Logger
}

// ListenError is a listen address the policy refuses.
type ListenError struct{ Msg, Hint string }

func (e *ListenError) Error() string { return e.Msg }

// CheckListen refuses to expose the monitor beyond this machine without a token and TLS:
// query statistics and alerts about patient databases are not for the open network.
func CheckListen(addr, token string, tls bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return &ListenError{Msg: fmt.Sprintf("listen address %q is not host:port", addr), Hint: "use e.g. 127.0.0.1:9188"}
	}
	if pgconn.IsLocal(host) && host != "" {
		return nil
	}
	switch {
	case token == "":
		return &ListenError{Msg: fmt.Sprintf("refusing to listen on %s without a token", addr),
			Hint: "set monitor.token, PGMEDIC_MONITOR_TOKEN or monitor.tokenFile, or listen on 127.0.0.1"}
	case !tls:
		return &ListenError{Msg: fmt.Sprintf("refusing to listen on %s without TLS", addr),
			Hint: "set monitor.tlsCert and monitor.tlsKey, or listen on 127.0.0.1"}
	}
	return nil
}

// Server is the HTTP face of a monitor.
type Server struct {
	m     *monitor.Monitor
	opts  Options
	pages *pages
	mux   *http.ServeMux

	mu       sync.Mutex
	failures map[string][]time.Time // refused token attempts by client address
}

// Guessing the token is slowed down: after maxFailures wrong tokens within failureWindow
// an address gets 429 until the window has passed. (A request with no token at all is
// not a guess: a browser's first visit.)
const (
	maxFailures   = 50
	failureWindow = time.Minute
)

// throttled records a refused attempt (when failed) and reports whether the address
// has made too many.
func (s *Server) throttled(r *http.Request, failed bool) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var recent []time.Time
	for _, at := range s.failures[host] {
		if now.Sub(at) < failureWindow {
			recent = append(recent, at)
		}
	}
	if failed {
		recent = append(recent, now)
	}
	if len(recent) == 0 {
		delete(s.failures, host)
	} else {
		s.failures[host] = recent
	}
	return len(recent) > maxFailures
}

// New builds the handler. An empty token is allowed only for a loopback listener (see
// CheckListen); requests then need no authorisation.
func New(m *monitor.Monitor, opts Options) (*Server, error) {
	if opts.Audit == nil {
		opts.Audit = slog.New(slog.DiscardHandler)
	}
	p, err := newPages()
	if err != nil {
		return nil, err
	}
	s := &Server{m: m, opts: opts, pages: p, mux: http.NewServeMux(), failures: map[string][]time.Time{}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})

	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.Handle("GET /metrics", s.auth("metrics", metrics))
	s.mux.Handle("GET /api/v1/alerts", s.auth("alerts api", http.HandlerFunc(s.alertsAPI)))
	s.mux.Handle("GET /static/", http.FileServerFS(assets)) // the stylesheet only: the login page needs it
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("POST /logout", s.logout)
	for path, page := range map[string]string{"/{$}": "overview", "/activity": "activity", "/statements": "statements",
		"/alerts": "alerts", "/replication": "replication"} {
		s.mux.Handle("GET "+path, s.auth(page+" page", s.page(page)))
	}
	return s, nil
}

// ServeHTTP sets the security headers on every answer.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

const cookieName = "pgmedic_token"

// Access levels a token grants.
const (
	roleAdmin  = "admin"  // everything, statement texts included
	roleViewer = "viewer" // metrics, alerts, dashboard; no statement texts
)

type roleKey struct{}

// authorised says which role the request's token grants, and how it was sent.
func (s *Server) authorised(r *http.Request) (role, how string) {
	if s.opts.Token == "" {
		return roleAdmin, "none (loopback without token)"
	}
	tok, how := "", ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, t, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", ""
		}
		tok, how = strings.TrimSpace(t), "bearer"
	} else if c, err := r.Cookie(cookieName); err == nil {
		tok, how = c.Value, "cookie"
	}
	switch {
	case tok == "":
		return "", ""
	case equal(tok, s.opts.Token):
		return roleAdmin, how
	case s.opts.ViewerToken != "" && equal(tok, s.opts.ViewerToken):
		return roleViewer, how
	}
	return "", ""
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// auth requires the token and writes the audit record; what names the view ("" for
// static assets, which are not audited).
func (s *Server) auth(what string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		role, how := s.authorised(r)
		_, cookieErr := r.Cookie(cookieName)
		presented := r.Header.Get("Authorization") != "" || cookieErr == nil
		if s.throttled(r, role == "" && presented) {
			s.opts.Audit.Warn("pgmedic monitor access throttled", "who", r.RemoteAddr, "what", r.Method+" "+r.URL.Path)
			http.Error(w, "too many refused attempts; wait a minute", http.StatusTooManyRequests)
			return
		}
		if role == "" {
			s.opts.Audit.Warn("pgmedic monitor access refused", "who", r.RemoteAddr, "what", r.Method+" "+r.URL.Path,
				"when", time.Now().UTC().Format(time.RFC3339))
			w.Header().Set("WWW-Authenticate", `Bearer realm="pgmedic monitor"`)
			if strings.Contains(r.Header.Get("Accept"), "text/html") {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.WriteHeader(http.StatusUnauthorized)
				s.pages.render(w, "login", nil)
				return
			}
			http.Error(w, "unauthorized: send Authorization: Bearer <token>", http.StatusUnauthorized)
			return
		}
		if what != "" {
			s.opts.Audit.Info("pgmedic monitor access", "who", r.RemoteAddr, "role", role, "auth", how, "what", what,
				"path", r.URL.Path, "when", time.Now().UTC().Format(time.RFC3339))
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), roleKey{}, role)))
	})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	tok := ""
	if err := r.ParseForm(); err == nil {
		tok = r.PostForm.Get("token")
	}
	ok := s.opts.Token != "" && (equal(tok, s.opts.Token) || s.opts.ViewerToken != "" && equal(tok, s.opts.ViewerToken))
	if s.throttled(r, !ok) {
		http.Error(w, "too many refused attempts; wait a minute", http.StatusTooManyRequests)
		return
	}
	if !ok {
		s.opts.Audit.Warn("pgmedic monitor login refused", "who", r.RemoteAddr, "when", time.Now().UTC().Format(time.RFC3339))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		s.pages.render(w, "login", map[string]any{"Failed": true})
		return
	}
	s.opts.Audit.Info("pgmedic monitor login", "who", r.RemoteAddr, "when", time.Now().UTC().Format(time.RFC3339))
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: tok, Path: "/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: 12 * 3600})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintln(w, `{"status":"ok"}`)
}

// Serve listens until ctx ends, then shuts down gracefully. ready, when not nil, gets
// the bound address once listening (":0" picks a port).
func (s *Server) Serve(ctx context.Context, ready func(addr fmt.Stringer)) error {
	tlsOn := s.opts.TLSCert != ""
	if err := CheckListen(s.opts.Listen, s.opts.Token, tlsOn); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.opts.Listen, err)
	}
	if ready != nil {
		ready(ln.Addr())
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() {
		if tlsOn {
			errc <- srv.ServeTLS(ln, s.opts.TLSCert, s.opts.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting the HTTP server down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
