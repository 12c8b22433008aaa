#!/usr/bin/env bash
# Builds the real servers from their Go modules under servers/, once:
#   etcd                       servers/etcd      go.etcd.io/etcd/server/v3
#   kube-apiserver             servers/kube      k8s.io/kubernetes/cmd/kube-apiserver
#   kube-controller-manager    servers/kube      k8s.io/kubernetes/cmd/kube-controller-manager
#   kube-scheduler             servers/kube      k8s.io/kubernetes/cmd/kube-scheduler
#   weaviate-server            servers/weaviate  github.com/weaviate/weaviate/cmd/weaviate-server
#   helm                       servers/helm      helm.sh/helm/v4/cmd/helm (the chart's lint/template/install)
#
# The binaries go to $SERVERS_DIR/bin/<key>/ (default ~/.cache/datamigration-operator/servers,
# outside the checkout, so every clone on a machine, CI's fresh ones included, shares them),
# where <key> hashes the Go version, the target, the build flags below and every
# servers/*/go.mod and go.sum, so a version bump builds a new set and a rerun with the
# same inputs returns at once. $SERVERS_DIR/bin/current links to the last set built.
# Go's own module and build caches (GOMODCACHE, GOCACHE) are used as they are.
#
# Progress goes to stderr; the one line on stdout is the directory of the binaries:
#   BIN=$(scripts/build-servers.sh) && "$BIN/etcd" --version
#
# Environment:
#   SERVERS_BUILD_JOBS  packages compiled at once (go build -p, and GOMAXPROCS of the
#                       go command and compilers); default 1, e.g. 2 on CI where
#                       nothing else runs. The build always runs under nice 19 in an
#                       autogroup of its own so it does not starve other work.
#   SERVERS_DIR         cache directory (default ${XDG_CACHE_HOME:-~/.cache}/datamigration-operator/servers)
#   GO                  go command (default: go on PATH, else /usr/local/go/bin/go)
# Options:
#   --rebuild           build even if the binaries for this key exist
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=$ROOT/servers
OUT=${SERVERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/datamigration-operator/servers}
JOBS=${SERVERS_BUILD_JOBS:-1}
REBUILD=0
for arg in "$@"; do
    case $arg in
        --rebuild) REBUILD=1 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-servers: unknown argument: $arg" >&2; exit 2 ;;
    esac
done
case $JOBS in ''|*[!0-9]*|0) echo "build-servers: SERVERS_BUILD_JOBS must be a positive integer" >&2; exit 2 ;; esac

if [ -z "${GO:-}" ]; then
    GO=$(command -v go || true)
    [ -n "$GO" ] || GO=/usr/local/go/bin/go
fi
[ -x "$GO" ] || command -v "$GO" >/dev/null || { echo "build-servers: no go command (set GO=...)" >&2; exit 1; }

log() { echo "build-servers: $*" >&2; }

BINARIES="etcd kube-apiserver kube-controller-manager kube-scheduler weaviate-server helm"
# Static binaries, as upstream releases them; no C toolchain needed.
export CGO_ENABLED=0
GOFLAGS_COMMON="-mod=readonly -trimpath"
LDFLAGS_COMMON="-s -w"
# Bump when the recipe below changes in a way the key would not otherwise see.
RECIPE=1

read -r GOVERSION GOOS GOARCH <<<"$(cd "$ROOT" && "$GO" env GOVERSION GOOS GOARCH | tr '\n' ' ')"
KEY=$(
    {
        echo "recipe=$RECIPE go=$GOVERSION target=$GOOS/$GOARCH cgo=$CGO_ENABLED"
        echo "flags=$GOFLAGS_COMMON ldflags=$LDFLAGS_COMMON"
        for f in "$SRC"/etcd/go.mod "$SRC"/etcd/go.sum "$SRC"/kube/go.mod "$SRC"/kube/go.sum \
                 "$SRC"/weaviate/go.mod "$SRC"/weaviate/go.sum "$SRC"/helm/go.mod "$SRC"/helm/go.sum; do
            echo "== ${f#"$SRC"/}"
            cat "$f"
        done
    } | sha256sum | cut -c1-16
)
BIN=$OUT/bin/$KEY

complete() {
    [ -f "$BIN/.complete" ] || return 1
    local b
    for b in $BINARIES; do [ -x "$BIN/$b" ] || return 1; done
}

report() {
    local b
    for b in $BINARIES; do
        log "  $(du -h "$BIN/$b" | cut -f1)	$BIN/$b"
    done
    sed 's/^/build-servers:   /' "$BIN/VERSIONS" >&2
    ln -sfn "$KEY" "$OUT/bin/current"
    echo "$BIN"
}

if [ "$REBUILD" = 0 ] && complete; then
    log "up to date ($GOVERSION), key $KEY:"
    report
    exit 0
fi

mkdir -p "$OUT/bin"
# One build at a time per cache directory; a second caller waits, then finds the result.
if command -v flock >/dev/null; then
    exec 9>"$OUT/.lock"
    if ! flock -n 9; then
        log "another build is running; waiting for $OUT/.lock"
        flock 9
    fi
    if [ "$REBUILD" = 0 ] && complete; then
        log "built meanwhile by another run, key $KEY:"
        report
        exit 0
    fi
fi

TMP=$(mktemp -d "$OUT/bin/.tmp-$KEY-XXXXXX")
chmod 755 "$TMP"
CHILD=
cleanup() {
    if [ -n "$CHILD" ]; then kill -TERM -- "-$CHILD" 2>/dev/null || kill -TERM "$CHILD" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Runs "$@" at low priority: nice 19, and where the kernel groups processes by session
# (autogroup), in a new session whose group is niced too, as nice alone only ranks
# processes within one group. Limited to $JOBS threads.
low() {
    local pid rc=0
    if [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null)" = 1 ] && command -v setsid >/dev/null; then
        GOMAXPROCS=$JOBS setsid -w bash -c 'echo 19 >/proc/self/autogroup 2>/dev/null || true; exec nice -n 19 "$@"' low "$@" &
    else
        GOMAXPROCS=$JOBS nice -n 19 "$@" &
    fi
    pid=$!
    CHILD=$pid
    wait "$pid" || rc=$?
    CHILD=
    return "$rc"
}

modver() { (cd "$SRC/$1" && "$GO" list -m -f "$3" "$2"); }

K8S_VERSION=$(modver kube k8s.io/kubernetes '{{.Version}}')
K8S_DATE=$(modver kube k8s.io/kubernetes '{{with .Time}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}')
K8S_MINOR=$(echo "$K8S_VERSION" | cut -d. -f2)
ETCD_VERSION=$(modver etcd go.etcd.io/etcd/server/v3 '{{.Version}}')
WEAVIATE_VERSION=$(modver weaviate github.com/weaviate/weaviate '{{.Version}}')
HELM_VERSION=$(modver helm helm.sh/helm/v4 '{{.Version}}')
# What Helm's Makefile stamps in for a release tag, so `helm version` reports it.
HELM_X=" -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION -X helm.sh/helm/v4/internal/version.metadata="
HELM_X="$HELM_X -X helm.sh/helm/v4/internal/version.gitTreeState=clean"

# What the Kubernetes release build stamps in (hack/lib/version.sh), so that
# /version and `kubectl version` report the real release.
KUBE_X=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    KUBE_X="$KUBE_X -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$K8S_MINOR"
    KUBE_X="$KUBE_X -X $pkg.gitTreeState=clean -X $pkg.buildDate=$K8S_DATE"
done

build() { # module-dir ldflags output package...
    local dir=$1 ldflags=$2 out=$3 start
    shift 3
    start=$(date +%s)
    log "building $* (go build -p $JOBS) ..."
    low "$GO" build -C "$SRC/$dir" -p "$JOBS" $GOFLAGS_COMMON -ldflags="$ldflags" -o "$out" "$@"
    log "  done in $(( $(date +%s) - start ))s"
}

T0=$(date +%s)
log "building into $BIN with $GOVERSION, $JOBS job(s)"
build etcd "$LDFLAGS_COMMON" "$TMP/etcd" go.etcd.io/etcd/server/v3
build kube "$LDFLAGS_COMMON$KUBE_X" "$TMP/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler
build weaviate "$LDFLAGS_COMMON" "$TMP/weaviate-server" github.com/weaviate/weaviate/cmd/weaviate-server
build helm "$LDFLAGS_COMMON$HELM_X" "$TMP/helm" helm.sh/helm/v4/cmd/helm

cat >"$TMP/VERSIONS" <<EOF
etcd                    go.etcd.io/etcd/server/v3 $ETCD_VERSION
kube-apiserver          k8s.io/kubernetes $K8S_VERSION
kube-controller-manager k8s.io/kubernetes $K8S_VERSION
kube-scheduler          k8s.io/kubernetes $K8S_VERSION
weaviate-server         github.com/weaviate/weaviate $WEAVIATE_VERSION
helm                    helm.sh/helm/v4 $HELM_VERSION
go                      $GOVERSION $GOOS/$GOARCH
EOF
touch "$TMP/.complete"
rm -rf "$BIN"
mv "$TMP" "$BIN"
log "built in $(( $(date +%s) - T0 ))s, key $KEY:"
report
