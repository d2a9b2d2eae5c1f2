// Explicit instantiations of the grouped kernel's emulator backend for fp16: every head size x block size
// (kernels/grouped_emulator_backend.h). One file per dtype so that they compile in parallel.
#include "kernels/grouped_emulator_backend.h"

namespace pal {
PAL_FOR_EACH_HEAD_SIZE(PAL_INSTANTIATE_GROUPED_EMULATOR_TENSOR_CORES, fp16_t)
PAL_FOR_EACH_HEAD_SIZE(PAL_INSTANTIATE_GROUPED_EMULATOR_CUDA_CORES, fp16_t)
}  // namespace pal
