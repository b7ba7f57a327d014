"""Synthetic Chinese place and person names with pinyin/English pairs.

Everything is drawn from a numpy Generator passed in, so the demo city is
reproducible for a seed. Only Chenghua's 14 street offices use real names.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NamePair = tuple[str, str]

#: Chenghua district's real street offices (街道), in code order 001..014.
CHENGHUA_STREETS: tuple[NamePair, ...] = (
    ("猛追湾", "Mengzhuiwan"),
    ("双桥子", "Shuangqiaozi"),
    ("府青路", "Fuqinglu"),
    ("建设路", "Jianshelu"),
    ("万年场", "Wannianchang"),
    ("跳蹬河", "Tiaodenghe"),
    ("双水碾", "Shuangshuinian"),
    ("二仙桥", "Erxianqiao"),
    ("白莲池", "Bailianchi"),
    ("保和", "Baohe"),
    ("青龙", "Qinglong"),
    ("龙潭", "Longtan"),
    ("圣灯", "Shengdeng"),
    ("驷马桥", "Simaqiao"),
)


def _pairs(spec: str) -> tuple[NamePair, ...]:
    """Parse "东dong 西xi" into (("东", "dong"), ("西", "xi"))."""
    return tuple((w[0], w[1:]) for w in spec.split())


_FIRST = _pairs(
    "东dong 西xi 南nan 北bei 新xin 华hua 锦jin 青qing 龙long 金jin 玉yu 和he 福fu "
    "民min 永yong 兴xing 光guang 明ming 春chun 梅mei 桂gui 建jian 红hong 长chang "
    "文wen 德de 惠hui 康kang 宁ning 泰tai 祥xiang 瑞rui 嘉jia 万wan 天tian 星xing "
    "凤feng 翠cui 碧bi 云yun 双shuang 白bai 府fu 蜀shu 望wang 水shui 石shi 桃tao "
    "杨yang 柳liu 松song 竹zhu 荷he 银yin 宏hong 胜sheng 立li 振zhen 昭zhao 崇chong"
)
_SECOND = _pairs(
    "华hua 城cheng 林lin 桥qiao 园yuan 苑yuan 湖hu 山shan 江jiang 河he 塘tang 湾wan "
    "坝ba 光guang 兴xing 盛sheng 丰feng 源yuan 泉quan 阳yang 安an 平ping 顺shun "
    "乐le 秀xiu 绣xiu 辉hui 祥xiang 宁ning 庆qing 隆long 荣rong 新xin 和he 泰tai "
    "溪xi 岭ling 坪ping 堰yan 井jing 门men 亭ting 台tai 街jie 岗gang 庄zhuang 家jia "
    "港gang 滨bin 洲zhou 锦jin 龙long 凤feng 鹤he 馨xin 韵yun 悦yue 雅ya 景jing "
    "茂mao"
)

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
    "蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹"
    "薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔向汤"
)
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国红梅鹏辉燕"
    "宇浩然子涵欣怡雨晨思远俊杰佳琪博文志强晓东海波丹婷玲琳雪梅春燕文斌"
)
_COURTYARD_SUFFIX: tuple[NamePair, ...] = (
    ("花园", "Garden"),
    ("家园", "Homeland"),
    ("小区", "Estate"),
    ("雅居", "Residence"),
    ("公寓", "Apartments"),
    ("新村", "New Village"),
    ("名苑", "Court"),
    ("新城", "New Town"),
)
_ROAD_DIR: tuple[NamePair, ...] = (
    ("", ""),
    ("", ""),
    ("东", "East "),
    ("西", "West "),
    ("南", "South "),
    ("北", "North "),
)
_ROAD_KIND: tuple[NamePair, ...] = (
    ("路", "Road"),
    ("路", "Road"),
    ("街", "Street"),
    ("巷", "Lane"),
)
#: An arterial is never a lane: the same draw picks among these instead.
_ARTERIAL_KIND: tuple[NamePair, ...] = (
    ("路", "Road"),
    ("路", "Road"),
    ("大道", "Avenue"),
    ("路", "Road"),
)
#: Street offices named after their main road: that road keeps the real name.
NAMED_ROADS: dict[str, NamePair] = {
    "府青路": ("府青路", "Fuqing Road"),
    "建设路": ("建设路", "Jianshe Road"),
}
#: Chengdu's ring roads, inside out, and the ring expressway.
RING_ROADS: tuple[NamePair, ...] = (
    ("一环路", "1st Ring Road"),
    ("二环路", "2nd Ring Road"),
    ("三环路", "3rd Ring Road"),
    ("绕城高速", "Ring Expressway"),
)
#: The rivers and the canal crossing the demo's districts (府河 and 南河 meet at 合江亭
#: and flow on as the 锦江; together they are the 府南河).
RIVERS: dict[str, NamePair] = {
    "fu": ("府河", "Fu River"),
    "nan": ("南河", "Nan River"),
    "jin": ("锦江", "Jin River"),
    "sha": ("沙河", "Sha River"),
    "dongfeng": ("东风渠", "Dongfeng Canal"),
}
_PHONE_PREFIX = np.array(
    [130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 155, 158, 159,
     166, 173, 177, 180, 181, 182, 183, 186, 187, 188, 189, 191, 199]
)  # fmt: skip


def _join_pinyin(first: str, second: str) -> str:
    """Capitalised pinyin with an apostrophe before a vowel-initial syllable (Xin'an)."""
    sep = "'" if second[0] in "aoe" else ""
    return (first + sep + second).capitalize()


class NamePool:
    """Unique two-syllable place-name stems (东华 / Donghua), drawn without replacement.

    When the ~3,500 combinations run out the pool starts again, so only callers
    that need uniqueness must stay under `capacity`.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        pairs = [
            (a[0] + b[0], _join_pinyin(a[1], b[1])) for a in _FIRST for b in _SECOND if a[0] != b[0]
        ]
        order = rng.permutation(len(pairs))
        self._pairs = [pairs[i] for i in order]
        self._next = 0

    @property
    def capacity(self) -> int:
        """Number of distinct stems."""
        return len(self._pairs)

    def take(self, n: int) -> list[NamePair]:
        """Next `n` stems (unique while fewer than `capacity` were taken)."""
        out = [self._pairs[(self._next + i) % len(self._pairs)] for i in range(n)]
        self._next += n
        return out


def street_name(stem: NamePair) -> NamePair:
    """Street office (街道) name, e.g. 猛追湾街道 / Mengzhuiwan Subdistrict."""
    return stem[0] + "街道", stem[1] + " Subdistrict"


def community_name(stem: NamePair) -> NamePair:
    """Community (社区) name, e.g. 东华社区 / Donghua Community."""
    return stem[0] + "社区", stem[1] + " Community"


def grid_name(community: NamePair, number: int) -> NamePair:
    """Grid (网格) name, e.g. 东华社区第3网格 / Donghua Community Grid 3."""
    return f"{community[0]}第{number}网格", f"{community[1]} Grid {number}"


def road_names(
    rng: np.random.Generator,
    stems: Sequence[NamePair],
    arterial: Sequence[bool] | None = None,
) -> list[NamePair]:
    """Road names from stems, e.g. 建设北路 / Jianshe North Road; an arterial is a 路 or a
    大道 (Avenue), never a 巷 (Lane)."""
    dirs = rng.integers(0, len(_ROAD_DIR), len(stems))
    kinds = rng.integers(0, len(_ROAD_KIND), len(stems))
    wide = [False] * len(stems) if arterial is None else list(arterial)
    out = []
    for (zh, en), d, k, a in zip(stems, dirs, kinds, wide, strict=True):
        dz, de = _ROAD_DIR[d]
        kz, ke = (_ARTERIAL_KIND if a else _ROAD_KIND)[k]
        out.append((f"{zh}{dz}{kz}", f"{en} {de}{ke}"))
    return out


def park_name(stem: NamePair) -> NamePair:
    """A park, e.g. 东华公园 / Donghua Park."""
    return stem[0] + "公园", stem[1] + " Park"


def lake_name(stem: NamePair, pond: bool = False) -> NamePair:
    """A lake or pond, e.g. 东华湖 / Donghua Lake, 东华塘 / Donghua Pond."""
    return (stem[0] + "塘", stem[1] + " Pond") if pond else (stem[0] + "湖", stem[1] + " Lake")


def greenway_name(river: NamePair) -> NamePair:
    """The green belt along a river, e.g. 沙河绿道 / Sha River Greenway."""
    return river[0] + "绿道", river[1] + " Greenway"


def linpan_name(stem: NamePair) -> NamePair:
    """A wooded farmstead of the Chengdu plain (林盘), e.g. 东华林盘 / Donghua Linpan."""
    return stem[0] + "林盘", stem[1] + " Linpan"


def address(road: NamePair, number: int) -> NamePair:
    """Street address, e.g. 建设北路12号 / No. 12 Jianshe North Road."""
    return f"{road[0]}{number}号", f"No. {number} {road[1]}"


def courtyard_names(
    rng: np.random.Generator,
    stems: Sequence[NamePair],
    roads: Sequence[NamePair],
    numbers: Sequence[int],
) -> list[NamePair]:
    """Courtyard names: estate style (锦绣花园 / Jinxiu Garden) or by address (…号院)."""
    by_address = rng.random(len(stems)) < 0.4
    suffix = rng.integers(0, len(_COURTYARD_SUFFIX), len(stems))
    out = []
    for i, stem in enumerate(stems):
        if by_address[i]:
            zh, en = address(roads[i], int(numbers[i]))
            out.append((zh + "院", en + " Courtyard"))
        else:
            sz, se = _COURTYARD_SUFFIX[suffix[i]]
            out.append((stem[0] + sz, f"{stem[1]} {se}"))
    return out


def person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Chinese full names (surname + one or two given characters)."""
    # Common surnames are far more frequent: Zipf-like weights.
    w = 1.0 / np.arange(1, len(_SURNAMES) + 1) ** 0.8
    sur = np.array(list(_SURNAMES))[rng.choice(len(_SURNAMES), n, p=w / w.sum())]
    given = np.array(list(_GIVEN))
    g1 = given[rng.integers(0, len(given), n)]
    g2 = np.where(rng.random(n) < 0.7, given[rng.integers(0, len(given), n)], "")
    return np.char.add(np.char.add(sur, g1), g2).astype(object)


def phone_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """Synthetic 11-digit mainland mobile numbers (start with 1)."""
    prefix = _PHONE_PREFIX[rng.integers(0, len(_PHONE_PREFIX), n)]
    rest = rng.integers(0, 100_000_000, n)
    return np.array([f"{p}{r:08d}" for p, r in zip(prefix, rest, strict=True)], dtype=object)


#: Facility name suffixes by building use, e.g. 东华小学 / Donghua Primary School.
FACILITIES: dict[str, tuple[NamePair, ...]] = {
    "commercial": (
        ("大厦", "Tower"),
        ("广场", "Plaza"),
        ("商场", "Mall"),
        ("农贸市场", "Farmers' Market"),
    ),
    "public": (
        ("小学", "Primary School"),
        ("中学", "Middle School"),
        ("社区卫生服务中心", "Community Health Centre"),
        ("党群服务中心", "Community Service Centre"),
        ("地铁站", "Metro Station"),
    ),
    "industrial": (
        ("产业园", "Industrial Park"),
        ("物流园", "Logistics Park"),
        ("机械厂", "Machinery Works"),
    ),
}


def facility_building(stem: NamePair, use: str, kind: int, number: int) -> NamePair:
    """A numbered building of a facility, e.g. 东华小学2号楼 / Donghua Primary School Bldg 2."""
    suffixes = FACILITIES[use]
    zh, en = suffixes[kind % len(suffixes)]
    return f"{stem[0]}{zh}{number}号楼", f"{stem[1]} {en} Bldg {number}"


def courtyard_building(courtyard: NamePair, number: int) -> NamePair:
    """A building in a courtyard, e.g. 锦绣花园3栋 / Jinxiu Garden Bldg 3."""
    return f"{courtyard[0]}{number}栋", f"{courtyard[1]} Bldg {number}"
