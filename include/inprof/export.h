// -----------------------------------------------------------------------------
// File: inprof/export.h
// -----------------------------------------------------------------------------
//
// INPROF_EXPORT marks the public API. The agent is built with hidden
// visibility, so only what carries this macro is visible from a shared
// libinprof.so; a static build exports nothing extra.
//
#ifndef INPROF_EXPORT_H_
#define INPROF_EXPORT_H_

#if defined(INPROF_SHARED_LIBRARY)
#define INPROF_EXPORT __attribute__((visibility("default")))
#else
#define INPROF_EXPORT
#endif

#endif  // INPROF_EXPORT_H_
