# The part of nixpkgs' `lib` that flake.nix, nix/ and nixos-tests/ use, for
# evaluating them offline (scripts/check-nix.sh). List, string and attrset
# functions behave as nixpkgs' do; module functions (mkOption, mkIf,
# mkDefault, types) return plain markers that nix/ci/check-flake.nix reads.
let
  inherit (builtins)
    all
    any
    attrNames
    concatLists
    concatStringsSep
    filter
    foldl'
    hasAttr
    head
    isAttrs
    length
    listToAttrs
    map
    mapAttrs
    match
    replaceStrings
    sort
    stringLength
    substring
    tail
    ;

  optionalAttrs = cond: attrs: if cond then attrs else { };
  optionals = cond: list: if cond then list else [ ];
  attrValues = attrs: map (n: attrs.${n}) (attrNames attrs);
  mapAttrsToList = f: attrs: map (n: f n attrs.${n}) (attrNames attrs);
  concatMapStringsSep =
    sep: f: list:
    concatStringsSep sep (map f list);
  hasPrefix = prefix: text: substring 0 (stringLength prefix) text == prefix;
  hasSuffix =
    suffix: text:
    let
      n = stringLength text;
      k = stringLength suffix;
    in
    k <= n && substring (n - k) k text == suffix;

  escapeShellArg =
    arg:
    if match "[[:alnum:],._+:@%/-]+" arg != null then
      arg
    else
      "'${replaceStrings [ "'" ] [ "'\\''" ] arg}'";

  escapeRegex = replaceStrings specials (map (c: "\\${c}") specials);
  specials = [
    "\\"
    "["
    "{"
    "("
    ")"
    "^"
    "$"
    "?"
    "*"
    "+"
    "|"
    "."
  ];

  recursiveUpdate =
    lhs: rhs:
    lhs
    // mapAttrs (
      name: value:
      if isAttrs value && hasAttr name lhs && isAttrs lhs.${name} then
        recursiveUpdate lhs.${name} value
      else
        value
    ) rhs;

  getAttrFromPath = path: attrs: foldl' (set: name: set.${name}) attrs path;
  setAttrByPath =
    path: value: if path == [ ] then value else { ${head path} = setAttrByPath (tail path) value; };

  option =
    kind: extra:
    {
      _type = "option-type";
      name = kind;
    }
    // extra;
in
{
  inherit
    all
    any
    attrNames
    attrValues
    concatLists
    concatMapStringsSep
    concatStringsSep
    escapeRegex
    escapeShellArg
    filter
    getAttrFromPath
    hasPrefix
    hasSuffix
    length
    listToAttrs
    mapAttrsToList
    optionalAttrs
    optionals
    recursiveUpdate
    setAttrByPath
    sort
    ;

  genAttrs =
    names: f:
    listToAttrs (
      map (name: {
        inherit name;
        value = f name;
      }) names
    );
  filterAttrs =
    pred: attrs:
    listToAttrs (
      map (name: {
        inherit name;
        value = attrs.${name};
      }) (filter (name: pred name attrs.${name}) (attrNames attrs))
    );
  optional = cond: x: optionals cond [ x ];
  optionalString = cond: text: if cond then text else "";
  concatMap = f: list: concatLists (map f list);
  concatMapStrings = f: list: concatStringsSep "" (map f list);
  last = list: builtins.elemAt list (length list - 1);
  splitString = sep: text: filter builtins.isString (builtins.split (escapeRegex sep) text);
  toInt =
    text:
    let
      number = builtins.fromJSON text;
    in
    if match "[0-9]+" text != null then number else throw "toInt: ${text} is not a number";
  lessThan = a: b: a < b;
  hasInfix = infix: text: length (builtins.split (escapeRegex infix) text) > 1;
  escapeShellArgs = concatMapStringsSep " " escapeShellArg;
  importTOML = path: builtins.fromTOML (builtins.readFile path);
  getExe = drv: "${drv}/bin/${drv.meta.mainProgram}";
  fix =
    f:
    let
      x = f x;
    in
    x;

  fileset = {
    maybeMissing = path: path;
    unions = paths: {
      _type = "fileset-unions";
      inherit paths;
    };
    difference = base: removed: {
      _type = "fileset-difference";
      inherit base removed;
    };
    toSource = { root, fileset }: {
      _type = "fileset-source";
      inherit root fileset;
      outPath = "/nix/store/stub-source";
    };
  };

  licenses = {
    mit.spdxId = "MIT";
    asl20.spdxId = "Apache-2.0";
  };

  mkOption = attrs: attrs // { _type = "option"; };
  mkEnableOption = name: {
    _type = "option";
    type = option "bool" { };
    default = false;
    description = "Whether to enable ${name}.";
  };
  literalMD = text: {
    _type = "literalMD";
    inherit text;
  };
  literalExpression = text: {
    _type = "literalExpression";
    inherit text;
  };
  mkIf = condition: content: {
    _type = "if";
    inherit condition content;
  };
  mkDefault = content: {
    _type = "override";
    priority = 1000;
    inherit content;
  };

  types = {
    bool = option "bool" { };
    str = option "str" { };
    path = option "path" { };
    port = option "port" { };
    package = option "package" { };
    enum = values: option "enum" { inherit values; };
    listOf = elem: option "listOf" { inherit elem; };
    attrsOf = elem: option "attrsOf" { inherit elem; };
    nullOr = elem: option "nullOr" { inherit elem; };
  };
}
