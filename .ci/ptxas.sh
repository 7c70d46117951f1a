#!/usr/bin/env bash
# NVIDIA's offline PTX tools for the ptxas checks of the kernel tests, on a machine with no GPU.
#
#   bin=$(bash .ci/ptxas.sh [DIR])        (DIR defaults to ~/.cache/cuda118)
#
# ptxas (the PTX assembler: registers, spills, shared memory), cuobjdump and nvdisasm (SASS) come
# from CUDA 11.8 as Debian 12 packages it in the non-free component (package nvidia-cuda-toolkit:
# sm_35 ... sm_90, PTX ISA up to 7.8). The .deb is fetched with `apt-get download` against a
# private copy of the machine's apt sources with non-free added, then unpacked with `dpkg -x`:
# nothing is installed, the machine's apt sources and package lists are left as they were (the
# private copy and its lists live in a temporary folder that is removed on exit).
#
# Once per machine (about 170 MB unpacked); later calls find DIR and return at once. Needs no
# root. Prints the folder that holds the tools on stdout, progress and errors on stderr; exit code
# 0 on success.
set -euo pipefail
dir=${1:-$HOME/.cache/cuda118}
bin="$dir/usr/bin"

if [ -x "$bin/ptxas" ] && [ -x "$bin/cuobjdump" ] && [ -x "$bin/nvdisasm" ]; then
    echo "$bin"
    exit 0
fi

command -v apt-get >/dev/null && command -v dpkg >/dev/null || { echo "ptxas.sh: needs apt-get and dpkg (Debian 12)" >&2; exit 1; }
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] || echo "ptxas.sh: expected Debian 12 (bookworm), found ${PRETTY_NAME:-unknown}; trying anyway" >&2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/parts" "$work/lists/partial" "$work/cache/archives/partial" "$work/deb"
# apt downloads as the unprivileged _apt user when run as root: let it write there.
if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
    chmod 755 "$work"
    chown _apt "$work/lists/partial" "$work/deb"
fi

# The machine's sources (deb822 .sources files and one-line .list files), with the non-free
# component added wherever main is listed.
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    case "$f" in
        *.sources) sed -E 's/^(Components:.*\bmain\b.*)$/\1 non-free/' "$f" >"$work/parts/$(basename "$f")" ;;
        *) sed -E 's/^(deb(-src)?\s.*\smain(\s.*)?)$/\1 non-free/' "$f" >"$work/parts/$(basename "$f").list" ;;
    esac
done

apt_private=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$work/parts"
    -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache"
    -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Get::List-Cleanup=false)
echo "ptxas.sh: fetching nvidia-cuda-toolkit from Debian's non-free component" >&2
apt-get "${apt_private[@]}" update -qq >&2
(cd "$work/deb" && apt-get "${apt_private[@]}" download -qq nvidia-cuda-toolkit >&2)

mkdir -p "$dir"
dpkg -x "$work"/deb/nvidia-cuda-toolkit_*.deb "$dir"
"$bin/ptxas" --version | tail -n 1 >&2
echo "$bin"
