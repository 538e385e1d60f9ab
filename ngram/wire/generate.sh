#!/bin/sh
# Regenerate ngram_pb2.py / ngram_pb2_grpc.py from ngram.proto (run after editing it).
# The generated modules are committed so installs need no grpcio-tools.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
python=${PYTHON:-"$root/.venv/bin/python"}
cd "$root"
"$python" -m grpc_tools.protoc -I . --python_out=. --grpc_python_out=. --pyi_out=. ngram/wire/ngram.proto
