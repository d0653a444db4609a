// The proximal optimizer module in one include: regularisers and their proxes, ProxGen, ProxSGD,
// ProxQuant, BinaryConnect, the subgradient baselines, lambda schedules and make_prox_optimizer.
#pragma once

#include "proxima/optim/prox/binaryconnect.h"
#include "proxima/optim/prox/group_prox.h"
#include "proxima/optim/prox/lambda_schedule.h"
#include "proxima/optim/prox/make_prox_optimizer.h"
#include "proxima/optim/prox/metrics.h"
#include "proxima/optim/prox/preconditioner.h"
#include "proxima/optim/prox/prox_optimizer.h"
#include "proxima/optim/prox/proxgen.h"
#include "proxima/optim/prox/proxsgd.h"
#include "proxima/optim/prox/regularizer.h"
#include "proxima/optim/prox/separable_prox.h"
#include "proxima/optim/prox/subgradient.h"
