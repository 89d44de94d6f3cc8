/**
 * Server-side merges. Every write to Redis is the merge script (`merge-script.ts`, built on the
 * library below), so a key's merge runs atomically on the server that owns its hash slot and two
 * writers never lose an update.
 *
 * How a stored key looks depends on its lattice kind:
 * - `lww`: a string, `L` + the 26-character timestamp + the raw value bytes. A read is one GET,
 *   and a merge reads only the 27-byte header (GETRANGE), never the value;
 * - `set`, `oset`: a hash with `t` = kind and one field per element (`:` + base64 of the element,
 *   or of the encoded `[score, element]` pair), so adding an element is one HSETNX however large
 *   the set grows;
 * - `counter`: a hash with `t` = `counter` and one field per writer (`:` + writer) holding its two
 *   running totals as big-endian doubles, so a merge reads and writes one 16-byte field; a writer
 *   with a floor (left by a delete) holds 32 bytes, its totals then its floors;
 * - `map`: a hash with `t` = `map` and one field per map key (`:` + key) holding the nested
 *   lattice's canonical encoding, so a merge touches only the map keys it writes;
 * - every other kind: a string, `V` + the canonical msgpack encoding (see `lattice/codec.ts`).
 *
 * Redis's bundled `cmsgpack` predates msgpack's binary type, so the script carries its own small
 * decoder, and a schema-aware encoder that writes values back as `bin`.
 *
 * A deleted counter is kept with its floors (see `CounterLattice.floored`), also inside a map, and
 * reads as absent; a write of another kind replaces it. `DELETE_SCRIPT` turns a key into what
 * `deletedState` gives. The merge rules mirror
 * the TypeScript lattices exactly; `test/storage/lua-merge.test.ts` checks the two against each
 * other on random inputs.
 */
const CMP = String.raw`
local function ts_cmp(a, b)
  if a == b then return 0 end
  local x, y = tonumber(string.sub(a, 1, 13), 16), tonumber(string.sub(b, 1, 13), 16)
  if x ~= y then return x < y and -1 or 1 end
  x, y = tonumber(string.sub(a, 14), 16), tonumber(string.sub(b, 14), 16)
  if x ~= y then return x < y and -1 or 1 end
  return 0
end

local function bytes_cmp(a, b)
  if a == b then return 0 end
  local n = math.min(#a, #b)
  local i = 1
  while i <= n do
    local j = math.min(i + 63, n)
    if string.sub(a, i, j) ~= string.sub(b, i, j) then
      for k = i, j do
        local x, y = string.byte(a, k), string.byte(b, k)
        if x ~= y then return x < y and -1 or 1 end
      end
    end
    i = j + 1
  end
  if #a == #b then return 0 end
  return #a < #b and -1 or 1
end

`;

export const LIB =
  CMP +
  String.raw`
-- Decoding (the subset of msgpack the canonical encoding uses) --------------------------------
local d_any
local function d_raw(s, p, n) return string.sub(s, p, p + n - 1), p + n end
local function d_arr(s, p, n)
  local out = {}
  for i = 1, n do out[i], p = d_any(s, p) end
  return out, p
end
local function d_map(s, p, n)
  local out = {}
  for _ = 1, n do
    local k, v
    k, p = d_any(s, p)
    v, p = d_any(s, p)
    out[k] = v
  end
  return out, p
end
d_any = function(s, p)
  local b = string.byte(s, p)
  if b == nil then error('BAD_ENCODING truncated value') end
  if b <= 0x7f then return b, p + 1 end
  if b >= 0xe0 then return b - 256, p + 1 end
  if b >= 0xa0 and b <= 0xbf then return d_raw(s, p + 1, b - 0xa0) end
  if b >= 0x90 and b <= 0x9f then return d_arr(s, p + 1, b - 0x90) end
  if b >= 0x80 and b <= 0x8f then return d_map(s, p + 1, b - 0x80) end
  if b == 0xc4 or b == 0xd9 then return d_raw(s, p + 2, string.byte(s, p + 1)) end
  if b == 0xc5 or b == 0xda then return d_raw(s, p + 3, (struct.unpack('>I2', s, p + 1))) end
  if b == 0xc6 or b == 0xdb then return d_raw(s, p + 5, (struct.unpack('>I4', s, p + 1))) end
  if b == 0xca then return struct.unpack('>f', s, p + 1) end
  if b == 0xcb then return struct.unpack('>d', s, p + 1) end
  if b == 0xcc then return string.byte(s, p + 1), p + 2 end
  if b == 0xcd then return struct.unpack('>I2', s, p + 1) end
  if b == 0xce then return struct.unpack('>I4', s, p + 1) end
  if b == 0xcf then return struct.unpack('>I8', s, p + 1) end
  if b == 0xd0 then return struct.unpack('>i1', s, p + 1) end
  if b == 0xd1 then return struct.unpack('>i2', s, p + 1) end
  if b == 0xd2 then return struct.unpack('>i4', s, p + 1) end
  if b == 0xd3 then return struct.unpack('>i8', s, p + 1) end
  if b == 0xdc then return d_arr(s, p + 3, (struct.unpack('>I2', s, p + 1))) end
  if b == 0xdd then return d_arr(s, p + 5, (struct.unpack('>I4', s, p + 1))) end
  if b == 0xde then return d_map(s, p + 3, (struct.unpack('>I2', s, p + 1))) end
  if b == 0xdf then return d_map(s, p + 5, (struct.unpack('>I4', s, p + 1))) end
  error('BAD_ENCODING unsupported msgpack type ' .. b)
end
local function decode(s)
  local v, p = d_any(s, 1)
  if p ~= #s + 1 then error('BAD_ENCODING trailing bytes') end
  if type(v) ~= 'table' then error('BAD_ENCODING not a lattice') end
  return v
end

-- Counters: a writer's totals, and its floor (zero when absent) --------------------------------
local function ctr4(v) return v[1], v[2], v[3] or 0, v[4] or 0 end
local function ctr_pack(up, down, fu, fd)
  if fu ~= 0 or fd ~= 0 then return { up, down, fu, fd } end
  return { up, down }
end
-- The same, as a hash field of a top-level counter: 16 bytes, or 32 with a floor.
local function field4(s)
  if #s == 32 then
    local up, down, fu, fd = struct.unpack('>dddd', s)
    return up, down, fu, fd
  end
  if #s ~= 16 then error('BAD_ENCODING a counter field of ' .. #s .. ' bytes') end
  local up, down = struct.unpack('>dd', s)
  return up, down, 0, 0
end
local function field_pack(up, down, fu, fd)
  if fu ~= 0 or fd ~= 0 then return struct.pack('>dddd', up, down, fu, fd) end
  return struct.pack('>dd', up, down)
end

-- True for a lattice that reads as absent: a deleted counter (every writer at a floor, one of
-- them above zero), or a non-empty map of absent fields only (isAbsent in TypeScript).
local is_absent
is_absent = function(t)
  if t[1] == 'counter' then
    local floored = false
    for _, v in pairs(t[2]) do
      local up, down, fu, fd = ctr4(v)
      if up ~= fu or down ~= fd then return false end
      if fu ~= 0 or fd ~= 0 then floored = true end
    end
    return floored
  elseif t[1] == 'map' then
    local any = false
    for _, v in pairs(t[2]) do
      if not is_absent(v) then return false end
      any = true
    end
    return any
  end
  return false
end

-- What a delete leaves (deletedState in TypeScript): counters floored at their totals, maps of
-- what their fields leave, nil for everything else and for what would be empty.
local tomb
tomb = function(t)
  if t[1] == 'counter' then
    local out, any = {}, false
    for w, v in pairs(t[2]) do
      if v[1] ~= 0 or v[2] ~= 0 then any = true end
      out[w] = ctr_pack(v[1], v[2], v[1], v[2])
    end
    if not any then return nil end
    return { 'counter', out }
  elseif t[1] == 'map' then
    local out, any = {}, false
    for k, v in pairs(t[2]) do
      local d = tomb(v)
      if d then out[k] = d any = true end
    end
    if not any then return nil end
    return { 'map', out }
  end
  return nil
end

-- Encoding --------------------------------------------------------------------------------------
local function hdr(small_base, small_max, b8, b16, b32, n)
  if small_max > 0 and n <= small_max then return string.char(small_base + n) end
  if b8 and n < 256 then return string.char(b8) .. struct.pack('>B', n) end
  if n < 65536 then return string.char(b16) .. struct.pack('>I2', n) end
  return string.char(b32) .. struct.pack('>I4', n)
end
local function e_str(s) return hdr(0xa0, 31, 0xd9, 0xda, 0xdb, #s) .. s end
local function e_bin(s) return hdr(0, 0, 0xc4, 0xc5, 0xc6, #s) .. s end
local function e_arr(n) return hdr(0x90, 15, nil, 0xdc, 0xdd, n) end
local function e_map(n) return hdr(0x80, 15, nil, 0xde, 0xdf, n) end
local function e_num(x) return cmsgpack.pack(x) end

local function count(t) local n = 0 for _ in pairs(t) do n = n + 1 end return n end

local function e_clock(c)
  local out = { e_map(count(c)) }
  for k, v in pairs(c) do out[#out + 1] = e_str(k) out[#out + 1] = e_num(v) end
  return table.concat(out)
end

local encode
encode = function(t)
  local tag = t[1]
  if tag == 'lww' then return e_arr(3) .. e_str('lww') .. e_str(t[2]) .. e_bin(t[3]) end
  if tag == 'max' or tag == 'min' then return e_arr(2) .. e_str(tag) .. e_num(t[2]) end
  if tag == 'prio' then return e_arr(3) .. e_str('prio') .. e_num(t[2]) .. e_bin(t[3]) end
  if tag == 'vc' then return e_arr(2) .. e_str('vc') .. e_clock(t[2]) end
  if tag == 'counter' then
    local out = { e_arr(2), e_str('counter'), e_map(count(t[2])) }
    for w, v in pairs(t[2]) do
      local up, down, fu, fd = ctr4(v)
      if fu ~= 0 or fd ~= 0 then
        out[#out + 1] = e_str(w) .. e_arr(4) .. e_num(up) .. e_num(down) .. e_num(fu) .. e_num(fd)
      else
        out[#out + 1] = e_str(w) .. e_arr(2) .. e_num(up) .. e_num(down)
      end
    end
    return table.concat(out)
  end
  local out = { e_arr(2), e_str(tag) }
  if tag == 'set' then
    out[#out + 1] = e_arr(#t[2])
    for _, e in ipairs(t[2]) do out[#out + 1] = e_bin(e) end
  elseif tag == 'oset' then
    out[#out + 1] = e_arr(#t[2])
    for _, e in ipairs(t[2]) do out[#out + 1] = e_arr(2) .. e_num(e[1]) .. e_bin(e[2]) end
  elseif tag == 'map' then
    out[#out + 1] = e_map(count(t[2]))
    for k, v in pairs(t[2]) do out[#out + 1] = e_str(k) out[#out + 1] = encode(v) end
  elseif tag == 'causal' then
    out[#out + 1] = e_arr(#t[2])
    for _, v in ipairs(t[2]) do out[#out + 1] = e_arr(2) .. e_clock(v[1]) .. e_bin(v[2]) end
  elseif tag == 'mcausal' then
    out[#out + 1] = e_arr(#t[2])
    for _, v in ipairs(t[2]) do
      out[#out + 1] = e_arr(3) .. e_clock(v[1]) .. e_map(count(v[2]))
      for k, d in pairs(v[2]) do out[#out + 1] = e_str(k) .. e_clock(d) end
      out[#out + 1] = e_bin(v[3])
    end
  else
    error('BAD_ENCODING unknown lattice tag ' .. tostring(tag))
  end
  return table.concat(out)
end

-- Merging: each returns (merged, changed) ------------------------------------------------------
local function clock_cmp(a, b)
  -- -1: a before b, 1: a after b, 0: equal, 2: concurrent
  local less, greater = false, false
  for k, x in pairs(a) do
    local y = b[k] or 0
    if x < y then less = true elseif x > y then greater = true end
  end
  for k, y in pairs(b) do
    if a[k] == nil and y > 0 then less = true end
  end
  if less and greater then return 2 end
  if less then return -1 end
  if greater then return 1 end
  return 0
end

local function clock_merge(a, b)
  local changed = false
  for k, y in pairs(b) do
    if y > (a[k] or 0) then a[k] = y changed = true end
  end
  return a, changed
end

-- Keeps the versions no other version strictly supersedes; versions with equal clock and value
-- are one version (their dependency maps, when present, are merged).
local function causal_merge(cur, inc, has_deps)
  local vidx = has_deps and 3 or 2
  local all = {}
  for _, v in ipairs(cur) do all[#all + 1] = { v = v, old = true } end
  local changed = false
  for _, v in ipairs(inc) do
    local dup = nil
    for _, w in ipairs(all) do
      if w.v[vidx] == v[vidx] and clock_cmp(w.v[1], v[1]) == 0 then dup = w break end
    end
    if dup then
      if has_deps then
        for k, d in pairs(v[2]) do
          if dup.v[2][k] == nil then dup.v[2][k] = d changed = true
          else
            local _, c = clock_merge(dup.v[2][k], d)
            if c then changed = true end
          end
        end
      end
    else
      all[#all + 1] = { v = v, old = false }
    end
  end
  local out = {}
  for i, x in ipairs(all) do
    local dominated = false
    for j, y in ipairs(all) do
      if i ~= j and clock_cmp(y.v[1], x.v[1]) == 1 then dominated = true break end
    end
    if dominated then
      if x.old then changed = true end
    else
      out[#out + 1] = x.v
      if not x.old then changed = true end
    end
  end
  return out, changed
end

local merge
merge = function(cur, inc, path)
  local tag = cur[1]
  if inc[1] ~= tag then
    -- A deleted counter gives way to another kind, as an absent key would.
    local ca, ia = is_absent(cur), is_absent(inc)
    if ca and not ia then return inc, true end
    if ia and not ca then return cur, false end
    error('LATTICE_TYPE_MISMATCH ' .. tag .. ' ' .. tostring(inc[1]) .. ' ' .. path)
  end
  if tag == 'lww' then
    local c = ts_cmp(inc[2], cur[2])
    if c > 0 or (c == 0 and bytes_cmp(inc[3], cur[3]) > 0) then return inc, true end
    return cur, false
  elseif tag == 'max' then
    if inc[2] > cur[2] then return inc, true end
    return cur, false
  elseif tag == 'min' then
    if inc[2] < cur[2] then return inc, true end
    return cur, false
  elseif tag == 'prio' then
    if inc[2] < cur[2] or (inc[2] == cur[2] and bytes_cmp(inc[3], cur[3]) < 0) then return inc, true end
    return cur, false
  elseif tag == 'vc' then
    local _, changed = clock_merge(cur[2], inc[2])
    return cur, changed
  elseif tag == 'counter' then
    local changed = false
    for w, v in pairs(inc[2]) do
      local c = cur[2][w]
      if c == nil then cur[2][w] = v changed = true
      else
        local a1, a2, a3, a4 = ctr4(c)
        local b1, b2, b3, b4 = ctr4(v)
        local f1, f2 = math.max(a3, b3), math.max(a4, b4)
        local t1, t2 = math.max(a1, b1, f1), math.max(a2, b2, f2)
        if t1 ~= a1 or t2 ~= a2 or f1 ~= a3 or f2 ~= a4 then
          cur[2][w] = ctr_pack(t1, t2, f1, f2)
          changed = true
        end
      end
    end
    return cur, changed
  elseif tag == 'set' then
    local seen, changed = {}, false
    for _, e in ipairs(cur[2]) do seen[e] = true end
    for _, e in ipairs(inc[2]) do
      if not seen[e] then seen[e] = true cur[2][#cur[2] + 1] = e changed = true end
    end
    return cur, changed
  elseif tag == 'oset' then
    local seen, changed = {}, false
    for _, e in ipairs(cur[2]) do seen[cmsgpack.pack(e[1]) .. e[2]] = true end
    for _, e in ipairs(inc[2]) do
      local id = cmsgpack.pack(e[1]) .. e[2]
      if not seen[id] then seen[id] = true cur[2][#cur[2] + 1] = e changed = true end
    end
    return cur, changed
  elseif tag == 'map' then
    local changed = false
    for k, v in pairs(inc[2]) do
      local c = cur[2][k]
      if c == nil then
        cur[2][k] = v changed = true
      else
        local m, ch = merge(c, v, path .. '/' .. k)
        cur[2][k] = m
        if ch then changed = true end
      end
    end
    return cur, changed
  elseif tag == 'causal' or tag == 'mcausal' then
    local out, changed = causal_merge(cur[2], inc[2], tag == 'mcausal')
    cur[2] = out
    return cur, changed
  end
  error('BAD_ENCODING unknown lattice tag ' .. tostring(tag))
end
`;

/** The delete of {@link DELETE_SCRIPT}, as a Lua function `delete_key(key)`. */
export const DELETE_KEY = String.raw`
local function delete_key(key)
  local rtype = redis.call('TYPE', key)['ok']
  if rtype == 'none' then return 0 end
  local stored = rtype == 'hash' and redis.call('HGET', key, 't') or nil
  if stored ~= 'counter' and stored ~= 'map' then
    redis.call('DEL', key)
    return 1
  end
  local ok, res = pcall(function()
    local all = redis.call('HGETALL', key)
    -- absent: every field already at its floor (a counter, with some floor above zero) or absent
    -- itself (a map with at least one field).
    local kept, all_down, any_floor, fields, floored = { 't', stored }, true, false, 0, false
    for i = 1, #all, 2 do
      local f, v = all[i], all[i + 1]
      if string.sub(f, 1, 1) == ':' then
        fields = fields + 1
        if stored == 'counter' then
          local up, down, fu, fd = field4(v)
          if up ~= fu or down ~= fd then all_down = false end
          if fu ~= 0 or fd ~= 0 then any_floor = true end
          if up ~= 0 or down ~= 0 then
            kept[#kept + 1] = f kept[#kept + 1] = field_pack(up, down, up, down)
            floored = true
          else
            kept[#kept + 1] = f kept[#kept + 1] = v
          end
        else
          local cur = decode(v)
          if not is_absent(cur) then all_down = false end
          local d = tomb(cur)
          if d then kept[#kept + 1] = f kept[#kept + 1] = encode(d) floored = true end
        end
      end
    end
    local absent = all_down and (stored == 'counter' and any_floor or stored == 'map' and fields > 0)
    if absent then return 0 end
    redis.call('DEL', key)
    if floored then
      for i = 1, #kept, 1000 do
        redis.call('HSET', key, unpack(kept, i, math.min(i + 999, #kept)))
      end
    end
    return 1
  end)
  if ok then return res end
  local msg = tostring(res)
  local at = string.find(msg, 'BAD_ENCODING', 1, true)
  return redis.error_reply(at and string.sub(msg, at) or ('BAD_ENCODING ' .. msg))
end
`;

/**
 * Deletes one key. KEYS[1] = key. A counter, or a map holding counters, becomes what
 * `deletedState` gives (counters floored at their totals, every other field gone): the key is
 * deleted and written again in one step, so subscribers hear a delete. Anything else is removed.
 * Returns 1 when the key read as present before, 0 when it already read as absent.
 */
export const DELETE_SCRIPT =
  LIB +
  DELETE_KEY +
  String.raw`
return delete_key(KEYS[1])
`;

/**
 * The hot path: merge a last-writer-wins register. KEYS[1] = key; ARGV = mode, timestamp, the
 * whole stored string (`L` + timestamp + value). Kept apart from the general script because a
 * script's top-level code runs on every call, and this one defines only what it uses.
 */
export const LWW_SCRIPT =
  CMP +
  String.raw`
local key, mode, ts, val = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local head = redis.pcall('GETRANGE', key, 0, 26)
if type(head) == 'table' then
  local t = redis.pcall('HGET', key, 't')
  if type(t) == 'string' then
    return redis.error_reply('LATTICE_TYPE_MISMATCH ' .. t .. ' lww ')
  end
  return redis.error_reply('BAD_ENCODING a Redis ' .. redis.call('TYPE', key)['ok'] .. ' is not a Stratus value')
end
if head == '' then
  redis.call('SET', key, val)
  return 1
end
if mode == 'new' then return 0 end
local marker = string.sub(head, 1, 1)
if marker == 'V' then
  -- "V", a fixarray header, then the kind tag as a fixstr: enough to name it without decoding.
  local n = (string.byte(head, 3) or 0xa0) - 0xa0
  return redis.error_reply('LATTICE_TYPE_MISMATCH ' .. string.sub(head, 4, 3 + n) .. ' lww ')
end
if marker ~= 'L' then return redis.error_reply('BAD_ENCODING not a Stratus value') end
local c = ts_cmp(ts, string.sub(head, 2, 27))
if c > 0 or (c == 0 and bytes_cmp(val, redis.call('GET', key)) > 0) then
  redis.call('SET', key, val)
  return 1
end
return 0
`;
