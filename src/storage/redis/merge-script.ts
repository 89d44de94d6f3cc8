/**
 * The merge script, and the commit script that runs the same merge on several keys at once. Both
 * build on the shared Lua library of `scripts.ts` (decoding, encoding, merge rules).
 */
import { DELETE_KEY, LIB } from "./scripts.js";

/**
 * The merge of one lattice into one key, as a Lua function `write_key(key, mode, kind, ts, A,
 * first, last)` whose items are `A[first..last]` (see {@link MERGE_SCRIPT} for the arguments and
 * what it returns): the merge script calls it once, the commit script once per key it writes.
 */
export const WRITE_KEY = String.raw`
local function write_key(key, mode, kind, ts, A, first, last)
  local collection = kind == 'set' or kind == 'oset' or kind == 'map' or kind == 'counter'
  local pairwise = kind == 'map' or kind == 'counter'

  local function hset_all(fields)
    for i = 1, #fields, 1000 do
      redis.call('HSET', key, unpack(fields, i, math.min(i + 999, #fields)))
    end
  end

  local function fresh()
    if not collection then
      redis.call('SET', key, A[first])
      return 1
    end
    local f = { 't', kind }
    if pairwise then
      for i = first, last, 2 do f[#f + 1] = ':' .. A[i] f[#f + 1] = A[i + 1] end
    else
      for i = first, last do f[#f + 1] = A[i] f[#f + 1] = '' end
    end
    hset_all(f)
    return 1
  end

  local function mismatch(stored)
    return redis.error_reply('LATTICE_TYPE_MISMATCH ' .. stored .. ' ' .. kind .. ' ')
  end

  -- True when the hash holds a deleted counter, or a map of deleted counters only: it reads as
  -- absent, so putIfAbsent stores into it and another kind replaces it.
  local function hash_absent(stored)
    if stored ~= 'counter' and stored ~= 'map' then return false end
    local all = redis.call('HGETALL', key)
    local any = false
    for i = 1, #all, 2 do
      if string.sub(all[i], 1, 1) == ':' then
        if stored == 'counter' then
          local up, down, fu, fd = field4(all[i + 1])
          if up ~= fu or down ~= fd then return false end
          if fu ~= 0 or fd ~= 0 then any = true end
        else
          if not is_absent(decode(all[i + 1])) then return false end
          any = true
        end
      end
    end
    return any
  end

  local rtype = redis.call('TYPE', key)['ok']
  if rtype == 'none' then return fresh() end

  if rtype == 'hash' then
    local stored = redis.call('HGET', key, 't')
    if not stored then return redis.error_reply('BAD_ENCODING a hash without a lattice kind') end
    if mode == 'new' or stored ~= kind then
      local ok, absent = pcall(hash_absent, stored)
      if not ok then return redis.error_reply('BAD_ENCODING ' .. tostring(absent)) end
      if not absent then
        if mode == 'new' then return 0 end
        return mismatch(stored)
      end
      if stored ~= kind then
        redis.call('DEL', key)
        return fresh()
      end
      -- The same kind into a deleted counter: merged below, so its floors stay.
    end
    if kind == 'counter' then
      -- Each writer's totals and floor only grow: keep the larger of each, field by field.
      local writes = {}
      local ok, err = pcall(function()
        for i = first, last, 2 do
          local field = ':' .. A[i]
          local up, down, fu, fd = field4(A[i + 1])
          local cur = redis.call('HGET', key, field)
          if cur then
            local cu, cd, cfu, cfd = field4(cur)
            fu, fd = math.max(fu, cfu), math.max(fd, cfd)
            up, down = math.max(up, cu, fu), math.max(down, cd, fd)
            if up ~= cu or down ~= cd or fu ~= cfu or fd ~= cfd then
              writes[#writes + 1] = field writes[#writes + 1] = field_pack(up, down, fu, fd)
            end
          else
            writes[#writes + 1] = field writes[#writes + 1] = A[i + 1]
          end
        end
      end)
      if not ok then return redis.error_reply('BAD_ENCODING ' .. tostring(err)) end
      if #writes == 0 then return mode == 'new' and 1 or 0 end
      hset_all(writes)
      return 1
    end
    if kind ~= 'map' then
      local added = 0
      for i = first, last do added = added + redis.call('HSETNX', key, A[i], '') end
      return added > 0 and 1 or 0
    end
  elseif rtype == 'string' then
    local head = redis.call('GETRANGE', key, 0, 26)
    if mode == 'new' then return 0 end
    local marker = string.sub(head, 1, 1)
    if marker == 'L' then
      if kind ~= 'lww' then return mismatch('lww') end
      local c = ts_cmp(ts, string.sub(head, 2, 27))
      if c > 0 or (c == 0 and bytes_cmp(A[first], redis.call('GET', key)) > 0) then
        redis.call('SET', key, A[first])
        return 1
      end
      return 0
    end
    if marker ~= 'V' then return redis.error_reply('BAD_ENCODING not a Stratus value') end
    if collection then
      local ok, cur = pcall(decode, string.sub(redis.call('GET', key), 2))
      return mismatch(ok and tostring(cur[1]) or '?')
    end
  else
    return redis.error_reply('BAD_ENCODING a Redis ' .. rtype .. ' is not a Stratus value')
  end

  local ok, res = pcall(function()
    if kind == 'map' then
      -- Merge every entry before writing any, so a mismatch in one entry leaves the map untouched.
      local writes = {}
      for i = first, last, 2 do
        local field = ':' .. A[i]
        local cur = redis.call('HGET', key, field)
        if not cur then
          writes[#writes + 1] = field writes[#writes + 1] = A[i + 1]
        else
          local merged, changed = merge(decode(cur), decode(A[i + 1]), '/' .. A[i])
          if changed then writes[#writes + 1] = field writes[#writes + 1] = encode(merged) end
        end
      end
      if #writes == 0 then return mode == 'new' and 1 or 0 end
      hset_all(writes)
      return 1
    end
    local cur = decode(string.sub(redis.call('GET', key), 2))
    if cur[1] ~= kind then error('LATTICE_TYPE_MISMATCH ' .. tostring(cur[1]) .. ' ' .. kind .. ' ') end
    local merged, changed = merge(cur, decode(string.sub(A[first], 2)), '')
    if not changed then return 0 end
    redis.call('SET', key, 'V' .. encode(merged))
    return 1
  end)
  if ok then return res end
  local msg = tostring(res)
  local at = string.find(msg, 'LATTICE_TYPE_MISMATCH', 1, true) or string.find(msg, 'BAD_ENCODING', 1, true)
  return redis.error_reply(at and string.sub(msg, at) or ('BAD_ENCODING ' .. msg))
end
`;

/**
 * Merges one lattice into one key. KEYS[1] = key. ARGV = mode (`merge`, or `new` to write only
 * when the key does not exist), kind, timestamp (LWW only, else empty), then the items:
 * - lww: the whole stored string (`L` + timestamp + value);
 * - set, oset: element field names;
 * - map: map key, encoded nested lattice, map key, encoded nested lattice, …;
 * - counter: writer, its two totals as 16 bytes of big-endian doubles, writer, …;
 * - other kinds: the whole stored string (`V` + canonical encoding).
 *
 * Returns 1 when the stored value changed, 0 when it did not. A type mismatch (also one nested in a
 * map) changes nothing and returns `LATTICE_TYPE_MISMATCH <stored> <incoming> <path>`.
 */
export const MERGE_SCRIPT =
  LIB +
  WRITE_KEY +
  String.raw`
return write_key(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV, 4, #ARGV)
`;

/**
 * A `putIfAbsent` and, only when it stored, writes to other keys: a transaction's commit record
 * and its write-back in one step, so a commit is one round trip. KEYS[1] = the key written if
 * absent, KEYS[2..] = the keys written after it. ARGV holds, for each key in that order, its kind,
 * timestamp and item count, then the items (as {@link MERGE_SCRIPT} takes them); kind `-` with
 * no items deletes the key unless it holds a last-writer-wins value later than the timestamp.
 *
 * Returns 0 when the first key was present (nothing written), 1 when it stored and every write
 * applied, 2 when it stored but some write was refused (a key of another kind, a value Stratus did
 * not write): the caller writes them again one by one, which is safe since merging twice is
 * merging once, and learns there which one failed and why. An error when the first write failed,
 * with nothing written.
 */
export const COMMIT_SCRIPT =
  LIB +
  WRITE_KEY +
  DELETE_KEY +
  String.raw`
local function delete_older(key, ts)
  -- A last-writer-wins value written after the commit wins over its delete, as over a put.
  local head = redis.pcall('GETRANGE', key, 0, 26)
  if type(head) == 'string' and string.sub(head, 1, 1) == 'L'
      and ts_cmp(string.sub(head, 2, 27), ts) > 0 then
    return 0
  end
  return delete_key(key)
end
local p = 1
local function write_next(key, mode)
  local kind, ts, n = ARGV[p], ARGV[p + 1], tonumber(ARGV[p + 2])
  local first = p + 3
  p = first + n
  if kind == '-' then return delete_older(key, ts) end
  return write_key(key, mode, kind, ts, ARGV, first, p - 1)
end
local stored = write_next(KEYS[1], 'new')
if stored ~= 1 then return stored end
local all = 1
for i = 2, #KEYS do
  -- The first key is written: whatever a write meets, the script must say so, not fail.
  local ok, res = pcall(write_next, KEYS[i], 'merge')
  if not ok or type(res) == 'table' then all = 2 end
end
return all
`;
