#!/bin/sh
# Generates ./configure from configure.ac and Makefile.am (autoconf, automake
# and libtool from scripts/deps). Run once in a fresh clone.
set -e
cd "$(dirname "$0")"
autoreconf --force --install --verbose "$@"
