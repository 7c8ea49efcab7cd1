#pragma once
/// @file export.hpp
/// MODNORM_API marks the public surface of the shared library; everything else is hidden.

#if defined(_WIN32)
#if defined(MODNORM_BUILDING_LIBRARY)
#define MODNORM_API __declspec(dllexport)
#else
#define MODNORM_API __declspec(dllimport)
#endif
#else
#define MODNORM_API __attribute__((visibility("default")))
#endif
