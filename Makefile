# One set of commands, the same locally and in CI. Each target works alone on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo serve test lint typecheck bench install clean system-deps

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The real servers the tests start (Debian's packages; root installs what is missing, waiting
# for the dpkg lock; no system service is started): headless Chromium for the browser test of
# the web chat, slapd and the LDAP tools, and Samba's AD DC. Anyone else gets those tests
# skipped with a reason, except with CI=true, where a missing server is a failure.
SYSTEM_PACKAGES := chromium:/usr/bin/chromium slapd:/usr/sbin/slapd ldap-utils:/usr/bin/ldapadd \
	samba-ad-dc:/usr/sbin/samba samba-ad-provision:/usr/share/samba/setup/ad-schema
system-deps:
	@missing=""; for entry in $(SYSTEM_PACKAGES); do \
		[ -e "$${entry#*:}" ] || missing="$$missing $${entry%%:*}"; \
	done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing$$missing for the tests"; \
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d; \
		apt-get -o DPkg::Lock::Timeout=300 update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
			--no-install-recommends $$missing >/dev/null; \
		status=$$?; rm -f /usr/sbin/policy-rc.d; exit $$status; \
	fi

demo: $(STAMP)
	$(BIN)/itdesk demo

serve: $(STAMP)
	$(BIN)/itdesk serve

test: $(STAMP) system-deps
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
