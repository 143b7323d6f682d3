#!/usr/bin/env bash
# Runs the tests against a real Secret Service where one can be started; see with-keyring.sh.
exec bash "$(dirname "$0")/with-keyring.sh" npx vitest run "$@"
