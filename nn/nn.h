// The nn layer in one include: Module, initialisers, layers, Sequential and the model zoo.
#pragma once

#include "proxima/nn/init.h"
#include "proxima/nn/layers.h"
#include "proxima/nn/layers_simple.h"
#include "proxima/nn/models/models.h"
#include "proxima/nn/module.h"
#include "proxima/nn/sequential.h"
