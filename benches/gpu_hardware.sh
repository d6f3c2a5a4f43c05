#!/usr/bin/env bash
# The GPU backend on real hardware (issue #20, item 5): its parity with the CPU backend
# and the traffic bench's GPU figures, on a machine that has a GPU but no Rust toolchain
# (the device machine some sessions are lent). Two steps:
#
#   benches/gpu_hardware.sh prepare   # here: builds the release binary and the
#                                     # determinism tests, strips them into .gpu/, and
#                                     # downloads the Vulkan loader's packages into .gl/
#   benches/gpu_hardware.sh run       # there, with .gpu and .gl carried: results under $OUT
#
# `run` unpacks the loader only where none is installed, points Vulkan at NVIDIA's driver
# where one is mounted, and fails (rather than skipping) where no GPU adapter is found.
# FLOWS (default 10000,100000,1000000) sets the traffic bench's problem sizes; PROFILE=dev
# prepares from the test profile's build instead of a release one (CI does, to keep this
# script working on Mesa's software Vulkan without a release build).
set -euo pipefail
cd "$(dirname "$0")/.."

# Keeps a folder out of git's view (and so out of what the device tool sends as the
# working tree: it travels only where `carry` names it).
exclude() {
    [ -d .git/info ] || return 0
    grep -qxF "$1" .git/info/exclude 2>/dev/null || echo "$1" >>.git/info/exclude
}

case "${1:-}" in
prepare)
    case "${PROFILE:-release}" in
    release) flags=(--release) dir=target/release ;;
    dev) flags=() dir=target/debug ;;
    *) echo "PROFILE is release or dev, not ${PROFILE}" >&2 && exit 2 ;;
    esac
    cargo build "${flags[@]}" --quiet
    tests=$(cargo test "${flags[@]}" --test determinism --no-run --message-format=json |
        grep -o '"executable":"[^"]*determinism[^"]*"' | cut -d'"' -f4 | tail -1)
    [ -x "$tests" ] || { echo "no determinism test binary was built" >&2; exit 1; }
    exclude /.gpu/
    exclude /.gl/
    mkdir -p .gpu .gl /tmp/amd64/partial
    strip -o .gpu/paraverse "$dir/paraverse"
    strip -o .gpu/determinism "$tests"
    apt=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
    apt-get "${apt[@]}" update -qq
    (cd .gl && apt-get "${apt[@]}" download -qq libvulkan1)
    du -sh .gpu .gl
    echo 'now: the device tool'"'"'s run, carry [".gpu", ".gl"], command "benches/gpu_hardware.sh run"'
    ;;
run)
    out=${OUT:-$PWD/gpu-out}
    mkdir -p "$out"
    if ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
        for f in .gl/*.deb; do dpkg -x "$f" /; done
        ldconfig
    fi
    # NVIDIA's driver as the Vulkan ICD. Containers often register it as libGLX_nvidia.so.0,
    # which fails without an X server: the loader says "Could not get 'vkCreateInstance'
    # via 'vk_icdGetInstanceProcAddr' for ICD libGLX_nvidia.so.0" and wgpu finds no
    # adapter (seen on the H200 machine, driver 580). The same driver's EGL library works
    # headless, so where it is installed the loader is pointed at it instead.
    if [ -z "${VK_DRIVER_FILES:-}" ]; then
        egl=""
        for lib in /usr/local/nvidia/lib64 /usr/lib/x86_64-linux-gnu /usr/lib; do
            if [ -e "$lib/libEGL_nvidia.so.0" ]; then
                egl=$lib/libEGL_nvidia.so.0
                break
            fi
        done
        icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
        if [ -n "$egl" ]; then
            icd=$(mktemp -d)/nvidia_egl_icd.json
            printf '{"file_format_version": "1.0.1", "ICD": {"library_path": "%s", "api_version": "1.4.312"}}\n' "$egl" >"$icd"
        fi
        if [ -f "$icd" ]; then
            export VK_DRIVER_FILES=$icd
            echo "Vulkan ICD: $icd" >&2
        fi
    fi
    export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi -L | tee "$out/gpu.txt"
    else
        echo "no nvidia-smi here: the adapter is the one the benches name" | tee "$out/gpu.txt"
    fi
    flows=${FLOWS:-10000,100000,1000000}
    .gpu/paraverse bench --traffic --backend gpu --flows "$flows" 2>&1 | tee "$out/traffic.txt"
    .gpu/paraverse bench --traffic --backend gpu --flows "$flows" --json >"$out/traffic.json"
    PARAVERSE_REQUIRE_GPU=1 .gpu/determinism gpu --test-threads 1 2>&1 | tee "$out/parity.txt"
    .gpu/paraverse bench --view 2>&1 | tee "$out/view.txt"
    ;;
*)
    echo "usage: $0 prepare | run" >&2
    exit 2
    ;;
esac
