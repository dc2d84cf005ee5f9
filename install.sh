#!/bin/sh
# Installs stackhook's static Linux binary, verified against SHA256SUMS.
#
#   curl -fsSL https://github.com/stackhook/stackhook/releases/latest/download/install.sh | sh
#   curl -fsSL .../install.sh | sh -s -- --version 0.1.0 --to /usr/local/bin
#
# It picks the archive for this machine (x86_64 or aarch64), downloads it and
# the release's SHA256SUMS, refuses to install anything when the checksum does
# not match (or cannot be computed), then puts `stackhook` in the directory
# with an atomic rename. POSIX sh: runs in busybox (Alpine), dash and bash,
# with curl or wget, and sha256sum, shasum or openssl.
#
# Options (and the environment variables that set them):
#   --version V       release to install, e.g. 0.1.0 (STACKHOOK_VERSION; default: the latest)
#   --to DIR          where to put stackhook (STACKHOOK_INSTALL_DIR; default:
#                     /usr/local/bin as root, else ~/.local/bin)
#   --base-url URL    where the release files are: https://..., http:// on a
#                     loopback address only, or a local directory
#                     (STACKHOOK_DOWNLOAD_URL; default: the GitHub release)
#   --sha256sums FILE a SHA256SUMS you already trust, instead of the
#                     release's own (STACKHOOK_SHA256SUMS)
set -eu

repo=https://github.com/stackhook/stackhook
version=${STACKHOOK_VERSION:-latest}
dir=${STACKHOOK_INSTALL_DIR:-}
base=${STACKHOOK_DOWNLOAD_URL:-}
sums=${STACKHOOK_SHA256SUMS:-}

say() { printf 'stackhook install: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

while [ $# -gt 0 ]; do
  case $1 in
    --version) [ $# -ge 2 ] || die "--version needs a value"; version=$2; shift 2 ;;
    --to) [ $# -ge 2 ] || die "--to needs a directory"; dir=$2; shift 2 ;;
    --base-url) [ $# -ge 2 ] || die "--base-url needs a URL"; base=$2; shift 2 ;;
    --sha256sums) [ $# -ge 2 ] || die "--sha256sums needs a file"; sums=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

# The machine. Only static musl builds are released: they run on any Linux.
os=$(uname -s)
arch=$(uname -m)
[ "$os" = Linux ] || die "no prebuilt binary for $os; install with: cargo install --locked stackhook"
case $arch in
  x86_64 | amd64) target=x86_64-unknown-linux-musl ;;
  aarch64 | arm64) target=aarch64-unknown-linux-musl ;;
  *) die "no prebuilt binary for the $arch architecture (x86_64 and aarch64 are released); install with: cargo install --locked stackhook" ;;
esac

version=${version#v}
case $version in
  latest) ;;
  *[!0-9A-Za-z.+-]* | '' | [!0-9]*) die "'$version' is not a version such as 0.1.0" ;;
esac

if [ -z "$dir" ]; then
  if [ "$(id -u)" = 0 ]; then dir=/usr/local/bin; else dir=${HOME:?set HOME or pass --to}/.local/bin; fi
fi

if [ -z "$base" ]; then
  if [ "$version" = latest ]; then base=$repo/releases/latest/download; else base=$repo/releases/download/v$version; fi
fi
base=${base%/}
case $base in
  https://*) ;;
  http://127.0.0.1[:/]* | http://localhost[:/]* | 'http://[::1]'[:/]*) ;;
  /*) [ -d "$base" ] || die "$base is not a directory" ;;
  *) die "refusing to download from '$base': use https:// (plain http only on a loopback address)" ;;
esac

# fetch URL-OR-PATH FILE
fetch() {
  case $1 in
    /*) cp "$1" "$2" ;;
    *)
      if command -v curl >/dev/null 2>&1; then
        case $1 in
          https://*) curl --fail --silent --show-error --location --retry 3 --proto =https --proto-redir =https -o "$2" "$1" ;;
          *) curl --fail --silent --show-error --location --retry 3 -o "$2" "$1" ;;
        esac
      elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$2" "$1"
      else
        die "neither curl nor wget is installed"
      fi
      ;;
  esac
}

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 -r "$1" | cut -d ' ' -f 1
  else
    return 1
  fi
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/stackhook-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

if [ -n "$sums" ]; then
  cp "$sums" "$tmp/SHA256SUMS" || die "cannot read $sums"
else
  fetch "$base/SHA256SUMS" "$tmp/SHA256SUMS" || die "cannot download $base/SHA256SUMS"
fi

# The archive's line in SHA256SUMS: "HASH  NAME" (or "HASH *NAME"). With no
# version asked for, the one archive for this target names the version.
if [ "$version" = latest ]; then
  want_name='' what="an archive for $target"
else
  want_name=stackhook-$version-$target.tar.gz what=$want_name
fi
lines=$(WANT="$want_name" TARGET="$target" awk '
  { n = $2; sub(/^\*/, "", n) }
  NF != 2 || length($1) != 64 || $1 !~ /^[0-9a-f]+$/ { next }
  ENVIRON["WANT"] != "" && n == ENVIRON["WANT"] { print $1, n; next }
  ENVIRON["WANT"] == "" {
    suffix = "-" ENVIRON["TARGET"] ".tar.gz"
    v = substr(n, 11, length(n) - 10 - length(suffix))
    if (substr(n, 1, 10) == "stackhook-" && substr(n, length(n) - length(suffix) + 1) == suffix && v ~ /^[0-9][0-9A-Za-z.+-]*$/)
      print $1, n
  }
' "$tmp/SHA256SUMS")
case $lines in
  '') die "SHA256SUMS at $base lists no $what" ;;
  *"
"*) die "SHA256SUMS at $base lists more than one $what" ;;
esac
want=${lines%% *}
name=${lines#* }
stem=${name%.tar.gz}

say "downloading $name"
fetch "$base/$name" "$tmp/$name" || die "cannot download $base/$name"
got=$(sha256 "$tmp/$name") || die "no sha256sum, shasum or openssl to verify the download with; nothing installed"
if [ "$got" != "$want" ]; then
  die "checksum mismatch for $name (SHA256SUMS says $want, the download is $got); nothing installed"
fi
say "verified sha256 $want"

mkdir "$tmp/unpack"
tar -xzf "$tmp/$name" -C "$tmp/unpack" || die "cannot unpack $name"
bin=$tmp/unpack/$stem/stackhook
[ -f "$bin" ] && [ ! -L "$bin" ] || die "$name holds no $stem/stackhook"

mkdir -p "$dir" || die "cannot create $dir"
new=$dir/.stackhook.new.$$
cp "$bin" "$new" && chmod 0755 "$new" && mv -f "$new" "$dir/stackhook" || {
  rm -f "$new"
  die "cannot write $dir/stackhook"
}
installed=$("$dir/stackhook" --version) || die "installed $dir/stackhook, but it does not run here"
say "installed $dir/stackhook ($installed)"
case :${PATH:-}: in
  *:"$dir":*) ;;
  *) say "$dir is not on PATH; add it, or call $dir/stackhook" ;;
esac
