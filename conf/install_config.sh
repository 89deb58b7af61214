#!/bin/sh
# meson install script: install_config.sh SOURCE TARGET installs the reference config SOURCE as
# TARGET (an absolute path, under $DESTDIR when that is set) only when TARGET does not exist: a
# reinstall must not overwrite a config the operator has edited. meson.build installs SOURCE
# beside it as TARGET.default every time, to compare against. (meson shows a script's output
# only when it fails, so there is nothing to print.)
set -eu
target=${DESTDIR:-}$2
[ -e "$target" ] || install -D -m 0644 "$1" "$target"
