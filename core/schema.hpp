// ferry core: a C++ type's wire shape as text (core/CODEC.md, "Schemas").
//
//   ferry::schema_of<std::vector<Point>>()   // "[struct Point{x:i32,y:i32}]"
//   ferry::schema_of<std::optional<float>>() // "?f32"
//
// schema_of<T>(), schema_of_list<Ts...>() and schema_fingerprint are declared
// in core/codec.hpp (with their documentation) and written by
// core/detail/codec_schema.hpp: the schema form (0x15) carries the
// fingerprint of its type's schema text, so the codec needs them. This header
// remains the name to include for code that uses schemas.
#pragma once

#include "codec.hpp"
