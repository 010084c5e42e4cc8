#!/bin/sh
# Unpacks Debian's OpenBLAS into bench/.openblas without installing it (no system change), so
# bench/compare.py can point PyTorch (Debian's python3-torch follows libblas.so.3) at it.
set -e
cd "$(dirname "$0")"
work=$(mktemp -d)
(cd "$work" && apt-get download libopenblas0-pthread >/dev/null && dpkg-deb -x libopenblas0-pthread_*.deb root)
rm -rf .openblas && mkdir .openblas
cp -a "$work"/root/usr/lib/x86_64-linux-gnu/openblas-pthread/* .openblas/
rm -rf "$work"
ls .openblas
