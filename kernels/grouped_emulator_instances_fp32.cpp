// Explicit instantiations of the grouped kernel's emulator backend for fp32: every head size x block size
// (kernels/grouped_emulator_backend.h). One file per dtype so that they compile in parallel.
#include "kernels/grouped_emulator_backend.h"

namespace pal {
PAL_FOR_EACH_HEAD_SIZE(PAL_INSTANTIATE_GROUPED_EMULATOR_CUDA_CORES, float)
}  // namespace pal
