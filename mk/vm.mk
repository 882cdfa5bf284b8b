# The VM tier: Go tests with the `vm` build tag, run inside a QEMU guest whose
# kernel has real IPVS (docs/testing.md). Included by the Makefile.
#
#   make e2e-vm                                   every VM test (VM_PKGS)
#   make e2e-vm VM_RUN=TestIPVSDirectRouting      one test (a -test.run regexp)
#   make e2e-vm VM_RUN='TestIPVSDirectRouting/wrr' VM_PKGS=./e2e/ VM_V=1
#
# keepalived and BIRD 2 (Debian packages) are shipped into the guest: the
# sync scenario runs keepalived side by side with lvsctl, the BGP/ECMP
# scenario uses BIRD as the router (and needs 1 GiB for three directors).
#
# The runner needs no root on the host; `make test-vm` runs `make deps` first.

VM_PKGS    ?= ./e2e/... ./director/... ./internal/app/
VM_RUN     ?=
VM_V       ?=
VM_BINS    ?= ./cmd/lvsctl
VM_TIMEOUT ?= 20m
VM_FLAGS   ?= -mem 1024 -host-bin keepalived -host-bin ipvsadm -host-bin bird

VMRUN_ARGS = -timeout $(VM_TIMEOUT) $(foreach b,$(VM_BINS),-bin $(b)) \
	$(if $(VM_RUN),-run '$(VM_RUN)') $(if $(VM_V),-v) $(VM_FLAGS) $(VM_PKGS)

.PHONY: e2e-vm test-vm lint-vm

e2e-vm:
	$(GO) run ./e2e/vm/cmd/vmrun $(VMRUN_ARGS)

test-vm: deps
	$(GO) run ./e2e/vm/cmd/vmrun $(VMRUN_ARGS)

# vm-tagged files are compiled only by the runner; vet them with the rest.
lint: lint-vm
lint-vm:
	$(GO) vet -tags vm ./...
	$(GO) tool staticcheck -tags vm ./...
