#!/bin/sh
# Builds the CLI in Release and compares it with PyTorch in one run (see bench/compare.py --help).
set -e
cd "$(dirname "$0")/.."
dotnet build -c Release src/Ongko.Cli -v quiet -nologo > /dev/null
exec /usr/bin/python3 bench/compare.py "$@"
