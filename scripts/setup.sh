#!/usr/bin/env bash
# Set up semcom on Debian (bookworm or later): Debian packages, the Python
# virtual environment .venv, and the GNU Radio blocks (gr-semcom) built with
# CMake and installed into .venv.
#
#   scripts/setup.sh            # every step (same as: apt venv gr)
#   scripts/setup.sh apt        # Debian packages (only what is missing)
#   scripts/setup.sh venv       # .venv and the Python packages
#   scripts/setup.sh gr         # build and install gr-semcom into .venv
#   scripts/setup.sh gui        # Debian packages for the GNU Radio Companion window
#
# `make setup` runs these steps only when their inputs changed; running this
# script by hand always redoes the venv and gr steps (they are idempotent).
#
# Environment (the Makefile passes its variables of the same names):
#   APT=0 or SEMCOM_SKIP_APT=1  never call apt-get (bring your own GNU Radio)
#   BASE_PYTHON   interpreter the venv is made from (default /usr/bin/python3);
#                 it must be able to `from gnuradio import gr`
#   VENV          virtual environment directory (default .venv)
#   GR_SRC        gr-semcom source directory (default gr-semcom)
#   GR_BUILD      its CMake build directory (default build/gr-semcom)
#   GR_CMAKE_ARGS extra CMake arguments, e.g. -DCMAKE_PREFIX_PATH=/opt/gnuradio
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

APT=${APT:-1}
case "${SEMCOM_SKIP_APT:-}" in 1|yes|true) APT=0 ;; esac
BASE_PYTHON=${BASE_PYTHON:-/usr/bin/python3}
VENV=${VENV:-.venv}
GR_SRC=${GR_SRC:-gr-semcom}
GR_BUILD=${GR_BUILD:-build/gr-semcom}
GR_CMAKE_ARGS=${GR_CMAKE_ARGS:-}
LOG_DIR=build/logs

APT_PACKAGES=(gnuradio gnuradio-dev dataset-fashion-mnist cmake g++ make
              pkg-config python3-venv python3-dev fortunes espeak-ng)
# Only for the GNU Radio Companion window (`make grc`): GTK for GRC itself,
# Qwt for the Qt GUI sinks of flowgraphs.
GUI_PACKAGES=(gir1.2-gtk-3.0 python3-pyqt5.qwt)

say() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

# Absolute paths (VENV and GR_BUILD may be given relative to the repository).
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$ROOT/$1" ;; esac; }
VENV_ABS=$(abspath "$VENV")
VPY="$VENV_ABS/bin/python"

# Run a command with its output in a log file; show the end of it on failure.
logged() {
    local log="$LOG_DIR/$1.log"; shift
    mkdir -p "$LOG_DIR"
    if ! "$@" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "'$*' failed (full log: $log)"
    fi
}

step_apt() {
    apt_install "${APT_PACKAGES[@]}"
}

step_gui() {
    apt_install "${GUI_PACKAGES[@]}"
}

# Install those of the given Debian packages that are missing.
apt_install() {
    if [ "$APT" = 0 ]; then
        say "APT=0: not calling apt-get (on Debian the packages would be: $*)"
        return 0
    fi
    command -v dpkg-query >/dev/null 2>&1 ||
        die "no dpkg-query: not a Debian system. Install GNU Radio yourself and run with APT=0"

    local missing=() p
    for p in "$@"; do
        [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0

    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 ||
            die "need root to install ${missing[*]}: run as root, install sudo, or install them yourself and use APT=0"
        sudo=(sudo)
    fi
    local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Use-Pty=0)
    say "installing Debian packages: ${missing[*]}"
    "${apt[@]}" update
    "${apt[@]}" install --no-install-recommends "${missing[@]}"
}

step_venv() {
    [ -x "$BASE_PYTHON" ] || command -v "$BASE_PYTHON" >/dev/null 2>&1 ||
        die "no Python at $BASE_PYTHON (set BASE_PYTHON)"
    local what="updating Python packages in $VENV"
    if ! "$VPY" -c '' >/dev/null 2>&1; then
        say "creating $VENV (from $BASE_PYTHON, with its system site-packages)"
        "$BASE_PYTHON" -m venv --clear --system-site-packages "$VENV_ABS"
        what="installing Python packages into $VENV (a few minutes)"
    fi
    "$VPY" -c 'from gnuradio import gr' >/dev/null 2>&1 ||
        die "'from gnuradio import gr' fails in $VENV. Install GNU Radio 3.10 (Debian: gnuradio)," \
            "or make the venv from a Python that has it: make clean; make setup BASE_PYTHON=/path/to/python3"

    local pip=("$VPY" -m pip install -q --disable-pip-version-check -c constraints.txt)
    say "$what"
    "${pip[@]}" -e '.[test]'
    # sionna-no-rt's metadata asks for numpy>=2; it works with numpy 1.26,
    # which GNU Radio needs. Its real dependencies come with the project.
    "${pip[@]}" --no-deps sionna-no-rt
    "$VPY" - <<'EOF' || die "the Python packages in the venv do not work together (see above)"
import numpy, torch, lightning, sionna.phy, numba, pillow_heif, av
from gnuradio import gr
assert int(numpy.__version__.split(".")[0]) < 2, "numpy %s: GNU Radio needs numpy<2" % numpy.__version__
EOF
}

# Remove what the previous install from build directory $1 put into the venv,
# so that renamed or deleted blocks leave no stale files (GRC would list them).
uninstall_previous() {
    [ -f "$1/install_manifest.txt" ] || return 0
    local f
    while IFS= read -r f || [ -n "$f" ]; do
        case "$f" in "$VENV_ABS"/*) rm -f "$f" ;; esac
    done <"$1/install_manifest.txt"
}

step_gr() {
    [ -f "$GR_SRC/CMakeLists.txt" ] || die "$GR_SRC/CMakeLists.txt not found"
    [ -x "$VPY" ] || die "$VENV does not exist yet: run 'scripts/setup.sh venv' first"
    local src build
    src=$(cd "$GR_SRC" && pwd)
    build=$(abspath "$GR_BUILD")
    # A build directory configured from another source tree cannot be reused.
    if [ -f "$build/CMakeCache.txt" ] &&
        ! grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$src" "$build/CMakeCache.txt"; then
        uninstall_previous "$build"
        rm -rf "$build"
    fi
    say "building $GR_SRC with CMake and installing it into $VENV"
    # shellcheck disable=SC2086  # GR_CMAKE_ARGS is a list of arguments
    logged gr-semcom-configure cmake -S "$src" -B "$build" \
        -DCMAKE_INSTALL_PREFIX="$VENV_ABS" -DPYTHON_EXECUTABLE="$VPY" \
        -DENABLE_DOXYGEN=OFF $GR_CMAKE_ARGS
    logged gr-semcom-build cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)"
    uninstall_previous "$build"
    logged gr-semcom-install cmake --install "$build"
    # Run from / so that the source tree's python/ folder cannot shadow the install.
    (cd / && "$VPY" -c 'from gnuradio import semcom') ||
        die "'from gnuradio import semcom' fails after installing into $VENV"
}

[ $# -gt 0 ] || set -- all
for step in "$@"; do
    case "$step" in
        apt) step_apt ;;
        venv) step_venv ;;
        gr) step_gr ;;
        gui) step_gui ;;
        all) step_apt; step_venv; step_gr ;;
        *) die "unknown step '$step' (apt, venv, gr, gui or all)" ;;
    esac
done
