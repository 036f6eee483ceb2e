-- wrk: GET the served images in turn (bench/images.sh passes their names as arguments).
local names = {}
local i = 0
function init(args)
  for _, name in ipairs(args) do names[#names + 1] = name end
end
function request()
  i = i + 1
  return wrk.format("GET", "/" .. names[(i % #names) + 1] .. "?i=" .. i)
end
