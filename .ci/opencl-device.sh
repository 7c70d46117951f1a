#!/usr/bin/env bash
# Makes the CPU an OpenCL 3.0 device (`opencl:0`) for the tests, on a machine without a GPU.
#
#   eval "$(bash .ci/opencl-device.sh [POCL_SOURCE_TARBALL] [PREFIX])"
#
# Builds PoCL 6.0 (the portable OpenCL runtime, MIT licence) from its upstream source tarball
# against Debian 12's LLVM 16 and installs it under PREFIX (default ~/.cache/pocl-6.0): about
# 5 minutes on 2 cores, once per machine. Debian 12's own pocl (3.1) lacks the OpenCL C generic
# address space that ILGPU's OpenCL kernels need; PoCL 6.0 has it. Later calls find the install,
# only make sure its run-time packages are present, and print at once.
#
# Prints the one line to evaluate (`export OCL_ICD_VENDORS=PREFIX/etc/OpenCL/vendors`); prints
# nothing, and says why on stderr, when neither an install nor a source tarball is at hand (the
# OpenCL tests then skip, naming the reason). Exit code 0 unless a build was started and failed.
set -euo pipefail
source_tarball=${1:-}
prefix=${2:-$HOME/.cache/pocl-6.0}
icd="$prefix/etc/OpenCL/vendors/pocl.icd"

# What the build needs; the installed PoCL links LLVM, clang and hwloc and is found through ocl-icd.
packages=(llvm-16-dev clang-16 libclang-16-dev libclang-cpp16-dev cmake ninja-build
    ocl-icd-dev ocl-icd-opencl-dev ocl-icd-libopencl1 pkg-config libhwloc-dev)

ensure_packages() {
    if ! dpkg -s "${packages[@]}" >/dev/null 2>&1; then
        echo "opencl-device: installing PoCL's build and run-time packages" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq "${packages[@]}" >/dev/null
    fi
}

if [ ! -f "$icd" ]; then
    if [ -z "$source_tarball" ] || [ ! -f "$source_tarball" ]; then
        echo "opencl-device: no PoCL install at $prefix and no source tarball${source_tarball:+ at $source_tarball}: no OpenCL device" >&2
        exit 0
    fi
    ensure_packages
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    started=$(date +%s)
    echo "opencl-device: building PoCL from $(basename "$source_tarball") into $prefix (about 5 minutes on 2 cores)" >&2
    tar xzf "$source_tarball" -C "$work"
    src=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)
    cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DWITH_LLVM_CONFIG=/usr/bin/llvm-config-16 -DENABLE_ICD=ON -DENABLE_TESTS=OFF -DENABLE_EXAMPLES=OFF \
        -DKERNELLIB_HOST_CPU_VARIANTS=distro -DCMAKE_INSTALL_PREFIX="$prefix" >"$work/cmake.log" 2>&1 ||
        { tail -n 20 "$work/cmake.log" >&2; exit 1; }
    ninja -C "$work/build" >"$work/build.log" 2>&1 || { tail -n 20 "$work/build.log" >&2; exit 1; }
    ninja -C "$work/build" install >/dev/null
    echo "opencl-device: PoCL built in $(( $(date +%s) - started )) s" >&2
else
    ensure_packages
fi
echo "export OCL_ICD_VENDORS=$prefix/etc/OpenCL/vendors"
