// An access site: one memory instruction of the kernel source, named for the profile of shared-memory
// bank conflicts and global sectors (kernels/simt/access_profile.h).
//
// The kernel names each shared-memory load/store and each global load it wants profiled with
// PAL_ACCESS_SITE("stage", "name") and hands it to its probe with the address and the width. With
// NoopProbe (the production kernel, GPU and emulator) the hook is empty and the site, a literal,
// disappears with it; with the recording probe on the GPU it is empty too. Only the recording probe
// in the emulator passes it on (kernels/probes.h).
#pragma once

namespace pal {

struct AccessSite {
  const char* stage;  // the `//! [stage]` marker the access lies in (a name of kernels/stage_registry.h)
  const char* name;   // what is accessed there, e.g. "q_vecs read"
  const char* file;   // the kernel source (__FILE__)
  int line;           // and the line in it
};

}  // namespace pal

// A site at the current line of the kernel source.
#define PAL_ACCESS_SITE(stage, name) (::pal::AccessSite{(stage), (name), __FILE__, __LINE__})
