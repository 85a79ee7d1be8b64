# postino build. `make run` and `make check` are the two entry points (see README.md).
# Two builds: build/ (normal, -O2) and build-asan/ (-fsanitize=address,undefined).

CORE_PKGS := libevent libevent_pthreads libevent_openssl openssl libcares libcrypt libsystemd libidn2 \
             opendkim sqlite3
# The Web reader's own libraries: only postino-web.so links them (cmd/web_load.h).
WEB_PKGS  := gmime-3.0 libxml-2.0
PKGS      := $(CORE_PKGS) $(WEB_PKGS)
CC        ?= cc
CSTD      := -std=c11 -D_GNU_SOURCE
WARN      := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libunistring (UTF-8 checks, NFC), libspf2 (/usr/lib/libspf2.so) and libopendmarc
# ship no .pc file on Debian 12: named explicitly.
CORE_LIBS  = $(shell pkg-config --libs $(CORE_PKGS) 2>/dev/null) -lspf2 -lopendmarc -lunistring -lpthread
WEB_LIBS   = $(shell pkg-config --libs $(WEB_PKGS) 2>/dev/null)
PKG_LIBS   = $(CORE_LIBS) $(WEB_LIBS)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

SRC_ALL   := $(sort $(wildcard src/lib/*.c src/proto/*.c src/mail/*.c src/net/*.c src/msgauth/*.c \
                 src/track/*.c src/metricsd/*.c src/webd/*.c \
                 src/smtpd/*.c src/smtpc/*.c src/pop3d/*.c src/qmgr/*.c src/cmd/*.c))
# The Web reader: built into postino-web.so (position-independent objects), not the binary.
SRC_WEB   := $(sort $(wildcard src/webd/*.c)) src/proto/html_clean.c
SRC_CORE  := $(filter-out $(SRC_WEB),$(SRC_ALL))
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
HDRS      := $(wildcard src/*/*.h)

# Per-build flags
build_CFLAGS      := -O2 -g
build-asan_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
# The sanitizer build also links the Web module's libraries into the binary: their
# thread-local storage is then static, since GCC 12's LeakSanitizer can crash scanning
# the dynamic TLS of libraries that arrive with a dlopen (libstdc++ under libxml2's ICU).
# The module itself is still loaded with dlopen, as in the normal build.
build_LDEXTRA      :=
build-asan_LDEXTRA  = -Wl,--no-as-needed $(WEB_LIBS)

.PHONY: all asan run check deps unit integ crash clean fuzz bench install

all: build/postino
asan: build-asan/postino

deps:
	@./scripts/install-deps.sh

define BUILD_template
$(1)/obj/%.o: src/%.c $(HDRS) | deps-stamp
	@mkdir -p $$(dir $$@)
	@echo "  CC  $$<  ($(1))"
	@$$(CC) $$(CSTD) $$(WARN) $$($(1)_CFLAGS) -Isrc $$(PKG_CFLAGS) -c $$< -o $$@

$(1)/objpic/%.o: src/%.c $(HDRS) | deps-stamp
	@mkdir -p $$(dir $$@)
	@echo "  CC  $$<  ($(1), -fPIC)"
	@$$(CC) $$(CSTD) $$(WARN) $$($(1)_CFLAGS) -fPIC -Isrc $$(PKG_CFLAGS) -c $$< -o $$@

# everything, for the unit tests
$(1)/libpostino.a: $$(patsubst src/%.c,$(1)/obj/%.o,$$(SRC_ALL))
	@rm -f $$@
	@ar rcs $$@ $$^

# the binary's part: all of it is linked in and exported, for the Web module to call
$(1)/libpostino-core.a: $$(patsubst src/%.c,$(1)/obj/%.o,$$(SRC_CORE))
	@rm -f $$@
	@ar rcs $$@ $$^

$(1)/postino-web.so: $$(patsubst src/%.c,$(1)/objpic/%.o,$$(SRC_WEB))
	@echo "  LD  $$@"
	@$$(CC) $$($(1)_CFLAGS) -shared -o $$@ $$^ $$(WEB_LIBS)
	@chmod 644 $$@

$(1)/postino: $(1)/obj/main.o $(1)/libpostino-core.a | $(1)/postino-web.so
	@echo "  LD  $$@"
	@$$(CC) $$($(1)_CFLAGS) -rdynamic -o $$@ $(1)/obj/main.o \
		-Wl,--whole-archive $(1)/libpostino-core.a -Wl,--no-whole-archive $$(CORE_LIBS) -ldl \
		$$($(1)_LDEXTRA)

$(1)/unit/%: tests/unit/%.c $(1)/libpostino.a $(HDRS)
	@mkdir -p $$(dir $$@)
	@echo "  LD  $$@"
	@$$(CC) $$(CSTD) $$(WARN) $$($(1)_CFLAGS) -Isrc $$(PKG_CFLAGS) -o $$@ $$< $(1)/libpostino.a $$(PKG_LIBS) $$(CMOCKA_LIBS)

$(1)-unit: $$(patsubst tests/unit/%.c,$(1)/unit/%,$$(UNIT_SRC))
endef
$(eval $(call BUILD_template,build))
$(eval $(call BUILD_template,build-asan))

# The dependency script runs once per checkout (and again when it changes).
deps-stamp: scripts/install-deps.sh
	@./scripts/install-deps.sh
	@touch $@

run: build/postino
	./scripts/run.sh

unit: build-unit build-asan-unit
	@./tests/run-unit.sh build build-asan

integ: build/postino build-asan/postino
	@echo "== integration tests, normal build"
	@POSTINO_BIN=$(CURDIR)/build/postino /usr/bin/python3 tests/integ/run.py
	@echo "== integration tests, sanitizer build"
	@POSTINO_BIN=$(CURDIR)/build-asan/postino /usr/bin/python3 tests/integ/run.py

check: all asan build-unit build-asan-unit
	@./tests/check.sh

# The crash tests alone (kill -9 under load; also part of integ and check), both builds.
crash: build/postino build-asan/postino
	@POSTINO_BIN=$(CURDIR)/build/postino /usr/bin/python3 tests/integ/run.py 't_crash*'
	@POSTINO_BIN=$(CURDIR)/build-asan/postino /usr/bin/python3 tests/integ/run.py 't_crash*'

fuzz:
	@./tests/fuzz/run.sh

# Without MODE: maildir and relay against Postfix, then the observe mode (postino
# alone, default vs metrics+json; a few minutes more). MODE=... runs that mode only.
bench: build/postino
	@./bench/run.sh
	@if [ -z "$$MODE" ] && [ "$$ONLY" != postfix ]; then MODE=observe ./bench/run.sh; fi

PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
# The unit names /usr/local/sbin/postino (the default PREFIX); the installed
# copy names $(PREFIX)/sbin/postino. The example config is installed only when
# there is no config yet: an operator's file is never overwritten. data_dir
# (/var/lib/postino, the unit's only writable folder) is made if missing, and
# the system user postino (run_as) if it does not exist (not with DESTDIR:
# a package makes it when installed).
install: build/postino
	@[ -n "$(DESTDIR)" ] || getent passwd postino >/dev/null || { useradd --system --user-group \
		--home-dir /var/lib/postino --no-create-home --shell /usr/sbin/nologin postino && \
		echo "created the system user postino (run_as)"; }
	install -D -m 755 build/postino $(DESTDIR)$(PREFIX)/sbin/postino
	install -D -m 644 build/postino-web.so $(DESTDIR)$(PREFIX)/lib/postino/postino-web.so
	install -D -m 644 docs/postino.8 $(DESTDIR)$(PREFIX)/share/man/man8/postino.8
	install -D -m 644 docs/postino.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/postino.conf.5
	install -d -m 755 $(DESTDIR)$(UNITDIR)
	sed -e 's|/usr/local/sbin/postino|$(PREFIX)/sbin/postino|g' \
		-e 's|/etc/postino/|$(SYSCONFDIR)/postino/|g' contrib/postino.service \
		>$(DESTDIR)$(UNITDIR)/postino.service
	chmod 644 $(DESTDIR)$(UNITDIR)/postino.service
	@[ -d $(DESTDIR)/var/lib/postino ] || \
		install -d -m 711 $(DESTDIR)/var/lib/postino
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/postino/postino.conf ]; then \
		echo "kept $(DESTDIR)$(SYSCONFDIR)/postino/postino.conf (example: contrib/postino.conf)"; \
	else \
		install -D -m 644 contrib/postino.conf $(DESTDIR)$(SYSCONFDIR)/postino/postino.conf && \
		echo "installed the example $(DESTDIR)$(SYSCONFDIR)/postino/postino.conf: edit it"; \
	fi

clean:
	rm -rf build build-asan deps-stamp
