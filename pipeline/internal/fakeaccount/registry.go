package fakeaccount

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/registry"

	"dagger/fargate/pipeline/internal/ecrfake"
)

// newRegistry is an in-memory OCI registry (with the referrers API cosign v3 uses) that
// behaves as ECR does where the module can tell: it requires the ECR password over basic
// auth, refuses pushes to a repository ECR does not have, and records every pushed manifest
// in the ECR fake so that DescribeImages answers for it (by digest and tag).
func newRegistry(ecr *ecrfake.Fake, password string) http.Handler {
	inner := registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v2") {
			inner.ServeHTTP(w, r)
			return
		}
		if !basicAuthOK(r, password) {
			w.Header().Set("WWW-Authenticate", `Basic realm="fake-ecr"`)
			registryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required: log in with the ECR authorization token")
			return
		}
		repo, kind, ref := splitRegistryPath(r.URL.Path)
		if repo != "" && r.Method != http.MethodGet && r.Method != http.MethodHead {
			if _, ok := ecr.Repository(repo); !ok {
				registryError(w, http.StatusNotFound, "NAME_UNKNOWN", "The repository with name '"+repo+"' does not exist in the registry with id '"+AccountID+"'")
				return
			}
		}
		if kind != "manifests" || r.Method != http.MethodPut {
			inner.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			registryError(w, http.StatusBadRequest, "MANIFEST_INVALID", "read manifest: "+err.Error())
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		inner.ServeHTTP(rec, r)
		if rec.status/100 != 2 {
			return
		}
		var tags []string
		if !strings.HasPrefix(ref, "sha256:") {
			tags = append(tags, ref)
		}
		ecr.AddImage(repo, string(body), tags...)
	})
}

func basicAuthOK(r *http.Request, password string) bool {
	user, pass, ok := r.BasicAuth()
	return ok && user == "AWS" && subtle.ConstantTimeCompare([]byte(pass), []byte(password)) == 1
}

// splitRegistryPath splits /v2/<name>/<kind>/<ref...> (kind: manifests, blobs, tags,
// referrers); the name may contain slashes. Other paths (/v2/, /v2/_catalog) give "".
func splitRegistryPath(p string) (repo, kind, ref string) {
	elems := strings.Split(strings.Trim(strings.TrimPrefix(p, "/v2/"), "/"), "/")
	for i := 1; i < len(elems); i++ {
		switch elems[i] {
		case "manifests", "blobs", "tags", "referrers":
			return strings.Join(elems[:i], "/"), elems[i], strings.Join(elems[i+1:], "/")
		}
	}
	return "", "", ""
}

func registryError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
