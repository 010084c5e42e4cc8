#!/bin/sh
# Builds the CLI and the ONNX Runtime anchor (bench/ort) in Release and compares them with PyTorch in one run
# (see bench/compare.py --help).
set -e
cd "$(dirname "$0")/.."
dotnet build -c Release src/Ongko.Cli -v quiet -nologo > /dev/null
dotnet build -c Release bench/ort -v quiet -nologo > /dev/null
exec /usr/bin/python3 bench/compare.py "$@"
