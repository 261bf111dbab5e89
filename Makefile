# make test   the default test suite (go test ./...)
# make fuzz   each fuzz target for FUZZTIME (default 60s); new failing
#             inputs land in the package's testdata/fuzz/<Target>/ and then
#             run with every `go test`
# make load   the load test: 1,000 concurrent generate_image calls against
#             a dev service with a fake provider (loopback only)

GO        ?= go
FUZZTIME  ?= 60s
# Each new interesting input is minimized for up to 60 s by default, which
# can eat a whole run; keep most of the time for exploring.
FUZZFLAGS ?= -fuzzminimizetime=5s

# package:target pairs, one per fuzz target in the module.
FUZZ_TARGETS := \
	./mcpserver:FuzzToolArguments \
	./mcpserver:FuzzParseImageURI \
	./workersai:FuzzDecodeResponse \
	./openai:FuzzDecodeAnswer \
	./imagefetch:FuzzParseDataURL \
	./imagefetch:FuzzNormalise \
	.:FuzzParseRef

.PHONY: test fuzz load

test:
	$(GO) test ./...

fuzz:
	@set -e; for pair in $(FUZZ_TARGETS); do \
		pkg=$${pair%%:*}; target=$${pair##*:}; \
		echo "== $$target ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run='^$$' -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) $(FUZZFLAGS) $$pkg; \
	done

load:
	$(GO) test -tags load -run '^TestLoad' -count=1 -timeout 15m -v ./reliability/
