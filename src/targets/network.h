/* SPDX-License-Identifier: MIT */
/*
 * network: a target's NIC on QEMU's user-mode network and the host ports
 * forwarded to it (vm.network, vm.forward, --network, --forward), and the
 * host ports a run listens on (those, and --gdb's) checked free before
 * QEMU starts, so that a taken one is named rather than QEMU exiting.
 */
#pragma once

#include "base/error.h"
#include "config/config.h"
#include "targets/run_options.h"

struct target_run;

/* --forward against the target's vm.forward: status 2 for a port both forward. */
int network_check(const struct target *t, const struct run_options *o, struct error *err);

/* The run's NIC and forwards: --network over vm.network; a forward implies the network. */
int network_prepare(struct target_run *run, struct error *err);

/* Every host port the run is to listen on, free now (as QEMU binds them). */
int network_check_ports(const struct target_run *run, struct error *err);
