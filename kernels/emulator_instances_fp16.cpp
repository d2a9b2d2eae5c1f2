// Explicit instantiations of the emulator backend for fp16: every supported head size x block size.
// One file per dtype so that the instantiations compile in parallel.
#include "kernels/dispatch.h"
#include "kernels/emulator_backend.h"

namespace pal {
PAL_FOR_EACH_HEAD_SIZE(PAL_INSTANTIATE_EMULATOR, fp16_t)
}  // namespace pal
