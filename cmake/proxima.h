// The whole public API of proxima: #include <proxima/proxima.h>.
#pragma once

#include "proxima/core/backend.h"
#include "proxima/core/error.h"
#include "proxima/core/factory.h"
#include "proxima/core/generator.h"
#include "proxima/core/ops.h"
#include "proxima/core/tensor.h"
#include "proxima/autograd/autograd.h"
#include "proxima/autograd/functions.h"
#include "proxima/optim/optim.h"
#include "proxima/nn/nn.h"
#include "proxima/nn/safetensors.h"
