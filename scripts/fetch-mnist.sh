#!/usr/bin/env bash
# fetch-mnist.sh: downloads the four MNIST IDX files (gzip) and verifies their SHA-256 sums.
set -euo pipefail

MIRRORS=(
  "https://ossci-datasets.s3.amazonaws.com/mnist/"
  "https://storage.googleapis.com/cvdf-datasets/mnist/"
)
SUMS="440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609  train-images-idx3-ubyte.gz
3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c  train-labels-idx1-ubyte.gz
8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6  t10k-images-idx3-ubyte.gz
f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaaf8c6ba7c7a5bd7d  t10k-labels-idx1-ubyte.gz"

usage() {
  cat <<EOF
Usage: $(basename "$0") [DIR]

Downloads the MNIST training and test sets (four gzip IDX files) into DIR
(default: data/mnist) and verifies their SHA-256 sums. Files already present
with the right sum are kept. Mirrors, tried in order:
$(printf '  %s\n' "${MIRRORS[@]}")
Needs curl or wget, and sha256sum.
EOF
}

die() {
  echo "fetch-mnist: error: $*" >&2
  exit 1
}

# download URL OUT: fetches URL into OUT with curl or wget; non-zero on failure.
download() {
  if command -v curl >/dev/null 2>&1; then
    curl --fail --location --silent --show-error --retry 2 --connect-timeout 20 \
      -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget --quiet --tries=2 --timeout=20 -O "$2" "$1"
  else
    die "neither curl nor wget is installed"
  fi
}

# good_sum FILE: the file exists and has its expected SHA-256 sum.
good_sum() {
  [[ -f "$1" ]] && grep "  $1\$" <<<"$SUMS" | sha256sum --check --status - 2>/dev/null
}

# fetch FILE: downloads FILE (into the current directory) from the first mirror that works.
fetch() {
  local file=$1 mirror
  for mirror in "${MIRRORS[@]}"; do
    echo "fetch-mnist: downloading ${mirror}${file}"
    if download "${mirror}${file}" "${file}.part"; then
      mv "${file}.part" "$file"
      if good_sum "$file"; then
        return 0
      fi
      echo "fetch-mnist: ${mirror}${file} has the wrong SHA-256 sum, trying the next mirror" >&2
      rm -f "$file"
    else
      echo "fetch-mnist: download from ${mirror} failed" >&2
      rm -f "${file}.part"
    fi
  done
  die "could not download a good copy of $file from any mirror (no network? a proxy?)." \
      "Download it by hand into $(pwd) and rerun this script to verify it."
}

main() {
  case "${1:-}" in
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option $1" ;;
  esac
  [[ $# -le 1 ]] || { usage >&2; die "expected at most one directory"; }
  command -v sha256sum >/dev/null 2>&1 || die "sha256sum is not installed"
  local dir=${1:-data/mnist} file
  mkdir -p "$dir" || die "cannot create directory $dir"
  cd "$dir"
  while read -r _ file; do
    if good_sum "$file"; then
      echo "fetch-mnist: $file already present and verified"
    else
      [[ -e "$file" ]] && echo "fetch-mnist: $file has the wrong sum, downloading again"
      fetch "$file"
    fi
  done <<<"$SUMS"
  sha256sum --check <<<"$SUMS" || die "SHA-256 verification failed in $dir"
  echo "fetch-mnist: MNIST is in $dir"
}

main "$@"
