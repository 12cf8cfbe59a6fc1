#!/bin/sh
# Writes what docker/compose.yaml needs: docker/secrets/relay.key (the relay's private key, a compose
# secret) and docker/.env (the agent's private key, both public keys, two admin tokens). Keys come from
# `xnat keygen` in the image; run it once, after building the image. Refuses to overwrite.
set -eu
cd "$(dirname "$0")"
image="${XNAT_IMAGE:-xnat}"
if [ -e .env ] || [ -e secrets/relay.key ]; then
  echo "docker/.env or docker/secrets/relay.key exists: remove them to make new keys" >&2
  exit 1
fi
pair() { docker run --rm "$image" keygen; }
field() { printf '%s\n' "$1" | sed -n "s/^$2: *//p"; }
token() { docker run --rm --entrypoint node "$image" -e "process.stdout.write(require('crypto').randomBytes(18).toString('base64url'))"; }
relay="$(pair)"
agent="$(pair)"
umask 077
mkdir -p secrets
field "$relay" privateKey > secrets/relay.key
# The image runs as uid 1000: it must be able to read its secret.
chown 1000:1000 secrets/relay.key 2>/dev/null || chmod 644 secrets/relay.key
cat > .env <<ENV
RELAY_PUBLIC_KEY=$(field "$relay" publicKey)
AGENT_PUBLIC_KEY=$(field "$agent" publicKey)
AGENT_PRIVATE_KEY=$(field "$agent" privateKey)
RELAY_ADMIN_TOKEN=$(token)
AGENT_ADMIN_TOKEN=$(token)
ENV
echo "wrote docker/secrets/relay.key and docker/.env; now: docker compose -f docker/compose.yaml up -d"
