// The optim layer in one include: Optimizer, the classic optimizers, make_optimizer, schedules, and the
// proximal module (optim/prox/prox.h).
#pragma once

#include "proxima/optim/adagrad.h"
#include "proxima/optim/adam.h"
#include "proxima/optim/make_optimizer.h"
#include "proxima/optim/optimizer.h"
#include "proxima/optim/prox/prox.h"
#include "proxima/optim/rmsprop.h"
#include "proxima/optim/schedule.h"
#include "proxima/optim/sgd.h"
