#!/usr/bin/env bash
# Build the dblink-secret runbook's Lambda function (cmd/cairn-secret-lambda) for provided.al2023, one zip
# per architecture, into steps/lambda/bundle/, where `go build ./cmd/cairn` embeds them. The zips are
# reproducible (-trimpath, no build id, fixed timestamps), so the CodeSha256 cairn compares is stable.
# Usage: scripts/build-lambda.sh [x86_64|arm64 ...]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
out=steps/lambda/bundle
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(x86_64 arm64)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for arch in "${archs[@]}"; do
	case "$arch" in
	x86_64) goarch=amd64 ;;
	arm64) goarch=arm64 ;;
	*) echo "build-lambda: unknown architecture $arch (x86_64 or arm64)" >&2; exit 2 ;;
	esac
	mkdir -p "$tmp/$arch"
	GOOS=linux GOARCH=$goarch CGO_ENABLED=0 "$GO" build -trimpath -buildvcs=false -ldflags='-s -w -buildid=' \
		-o "$tmp/$arch/bootstrap" ./cmd/cairn-secret-lambda
	chmod 0755 "$tmp/$arch/bootstrap"
	touch -t 198001010000 "$tmp/$arch/bootstrap"
	rm -f "$tmp/$arch.zip"
	(cd "$tmp/$arch" && zip -q -X -9 "$tmp/$arch.zip" bootstrap)
	mv "$tmp/$arch.zip" "$out/cairn-secret-lambda-$arch.zip"
	echo "built $out/cairn-secret-lambda-$arch.zip ($(stat -c %s "$out/cairn-secret-lambda-$arch.zip") bytes)"
done
