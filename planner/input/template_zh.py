"""Chinese help texts of the Excel templates (``planner template --lang zh``), as data next to the
English ones in ``planner.input.workbook``: keyed by model and field (``"MarketRow.year"``), by sheet
or by group-table column. Sheet and field names are the file format and stay as they are; only the
help a person reads is translated. ``tests/unit/test_template_zh.py`` checks that every help cell
of the zh template has its Chinese text here."""

from __future__ import annotations

REQUIRED = {"required": "必填", "optional": "可选"}

FIELDS: dict[str, str] = {
    # case sheet: entity
    "EntitySpec.id": "简短标识，用于文件名和表格（字母、数字、_ . -）。",
    "EntitySpec.name": "显示名称。",
    "EntitySpec.sector": "发电行业（power）或工业行业（钢铁 steel、水泥 cement、电解铝 aluminium）。",
    "EntitySpec.unit_class": "单一机组的基准值类别（案例无 units 机组列表时）。",
    "EntitySpec.capacity_mw": "单台发电机组额定容量（MW；同型机组合并填写时为每台容量）：按配额分配方案的 300 MW "
                              "类别界限核对燃煤类别（coal_gt300 = 额定容量不低于 400 MW，规则包 allocation.power.class_boundary_mw.*）。",
    "EntitySpec.unit_count": "活动数据覆盖的同型机组台数（2 × 660 MW 电厂合并填写时为 2）：发电量与装机的合理性检查使用 capacity_mw × 台数。",
    "EntitySpec.cooling": "发电机组冷却方式；空冷提高基准法配额（见规则包）。",
    "EntitySpec.condensing": "纯凝机组；默认：无供热的年份为 true。",
    # horizon
    "HorizonSpec.first_year": "规划期第一个履约年度。",
    "HorizonSpec.last_year": "规划期最后一个履约年度。",
    # allocation
    "AllocationSpec.method": "benchmark：按各年度配额分配方案的官方公式（基准法，规则包）；given：使用 allocation_given 表给定的配额。",
    "AllocationSpec.formula": "发电行业配额公式：auto = 各年度分配方案的公式（规则包）；或所有年份使用同一公式。",
    "AllocationSpec.correction_factor": "附加修正系数，乘入产出部分的配额。",
    "AllocationSpec.coal_floor": "燃煤机组配额缺口上限（缺口不超过排放量的 20%）：auto = 燃煤类别启用。",
    "AllocationSpec.gas_topup": "燃气机组配额补足（配额补足至排放量）：auto = 燃气机组启用。",
    # opening
    "OpeningSpec.prior_year_emissions_t": "首个履约年度前一年的核查排放量（吨，预分配的依据）。",
    "OpeningSpec.net_sales_since_2019_t": "规划期前累计净出售的配额 CEA（卖出 − 买入，吨），用于配额结转限额。",
    "OpeningSpec.ccer_unrestricted_t": "持有的无使用限制的新体系国家核证自愿减排量 CCER（吨）。",
    "OpeningSpec.transition": "期初持仓相对于进入首年的配额结转过渡点所处位置（rules.md §14）：'after'（默认）已过过渡点，"
                              "超出结转限额的年度配额作废（发电行业 2024→2025 过渡：10,000 吨 + 1.5 × max(0, 净出售量)）；"
                              "'before' 过渡点尚未到期，规划可在此前出售配额以提高净出售量和结转限额。",
    "OpeningSpec.transition_sell_cny_per_t": "仅 'before'：过渡点前的配额出售价格（元/吨）；默认首年出售价格。",
    # finance
    "FinanceSpec.discount_rate": "折现率（0.05 = 5%）。",
    "FinanceSpec.base_year": "现金流不折现的基准年；默认首个履约年度。",
    "FinanceSpec.capex_method": "upfront：投资计入建设年；annuity：按折现率在寿命期内年金化，计入规划期内的运行年份。",
    "FinanceSpec.terminal_value": "最后一次清缴后仍持有的配额 CEA / CCER 的期末价值：按最后出售价格、按零或按给定价格计值。",
    "FinanceSpec.terminal_cea_cny_per_t": "期末配额 CEA 的给定价格（元/吨，terminal_value 为 given 时）。",
    "FinanceSpec.terminal_ccer_cny_per_t": "期末 CCER 的给定价格（元/吨，terminal_value 为 given 时）。",
    # policy
    "PolicySpec.rule_pack": "规则包标识，可加 @版本（如 cn-national@2026.11）；默认最新版本。",
    "PolicySpec.compliance": "penalty：允许履约缺口，按罚款并在下一年度核减配额；hard：必须足额履约。",
    # solver
    "SolverSpec.time_limit_s": "求解器时限（秒）；留空：单个规划 600 秒，情景分析每个情景 60 秒。",
    "SolverSpec.mip_rel_gap": "求解需证明的混合整数规划相对间隙（如 1e-6）。",
    "SolverSpec.threads": "求解器线程数。",
    # market
    "MarketRow.year": "履约年度。",
    "MarketRow.cea_buy_cny_per_t": "企业可购买配额 CEA 的价格（元/吨）。",
    "MarketRow.cea_sell_cny_per_t": "企业可出售配额 CEA 的价格（元/吨）；或填写 cea_spread_cny_per_t。",
    "MarketRow.cea_spread_cny_per_t": "买卖价差：出售价格 = 购买价格 − 价差（元/吨）。",
    "MarketRow.fee_cny_per_t": "买卖每吨配额 CEA 的交易手续费（元/吨）。",
    "MarketRow.ccer_cny_per_t": "国家核证自愿减排量 CCER 的购买价格（元/吨）。",
    "MarketRow.ccer_sell_cny_per_t": "CCER 出售价格（元/吨）；留空 = 企业不出售 CCER。",
    "MarketRow.ccer_fee_cny_per_t": "买卖每吨 CCER 的交易手续费（元/吨）。",
    "MarketRow.ccer_available_t": "企业本履约周期可购买的 CCER 数量（吨）；留空 = 规则包默认值（企业在新体系 CCER 已签发量中的份额，"
                                  "ccer.default_supply.*），并给出警告；unlimited = 不设上限（一种情景：新体系启动以来供给紧张）。",
    "MarketRow.buy_limit_t": "本年度配额 CEA 购买上限（吨）。",
    "MarketRow.sell_limit_t": "本年度配额 CEA 出售上限（吨）。",
    "MarketRow.penalty_reference_cny_per_t": "清缴截止日前一个月的配额 CEA 平均价格，为按吨计罚款的基数（2023 年度起）；默认本年度配额购买价格。",
    # activity
    "ActivityRow.unit": "机组标识（units 表）；单一机组企业留空。",
    "ActivityRow.year": "履约年度。",
    "ActivityRow.output": "发电行业：发电量（MWh）；工业：产品产量（吨）。",
    "ActivityRow.emissions_t": "基准情景的核查排放量（吨 CO2；填写此项或排放强度）。",
    "ActivityRow.intensity_t_per_unit": "单位产出排放量，未填写 emissions_t 时使用。",
    "ActivityRow.heat_gj": "供热量（GJ，发电行业）。",
    "ActivityRow.heat_intensity_t_per_gj": "单位供热排放量（吨 CO2/GJ），与产出 × 强度相加。",
    "ActivityRow.supply_mwh": "供电量（MWh）；2019-2022 年度发电行业公式（供电量基准）需要。",
    "ActivityRow.load_rate": "年负荷（出力）系数，以小数表示，用于负荷修正；留空 = 系数 1。",
    "ActivityRow.heat_supply_ratio": "供热比，用于 2019-2022 年度供热比修正。",
    # units
    "UnitSpec.id": "机组标识。",
    "UnitSpec.name": "机组显示名称。",
    "UnitSpec.unit_class": "机组的基准值类别。",
    "UnitSpec.capacity_mw": "额定容量（MW）：按分配方案的 300 MW 类别界限核对燃煤类别。",
    "UnitSpec.unit_count": "本行活动数据覆盖的 capacity_mw 同型机组台数。",
    "UnitSpec.cooling": "冷却方式（水冷 water / 空冷 air）。",
    "UnitSpec.condensing": "纯凝机组；默认：无供热的年份为 true。",
    # prior activity
    "PriorActivityRow.unit": "机组标识（units 表）；单一机组企业留空。",
    "PriorActivityRow.year": "规划期之前的年份。",
    "PriorActivityRow.output": "发电量（MWh；发电量基准公式需要）。",
    "PriorActivityRow.supply_mwh": "供电量（MWh；2019-2022 年度供电量基准公式需要）。",
    "PriorActivityRow.heat_gj": "供热量（GJ）。",
    "PriorActivityRow.load_rate": "年负荷系数，以小数表示；留空 = 负荷修正系数 1。",
    "PriorActivityRow.heat_supply_ratio": "供热比。",
    # benchmarks
    "BenchmarkRow.year": "履约年度。",
    "BenchmarkRow.unit_class": "本行适用的基准值类别；留空 = 企业所有机组。",
    "BenchmarkRow.output_t_per_unit": "发电行业：供电或发电基准值（吨 CO2/MWh，按公式口径）；工业：强度基准（吨 CO2/吨产品）。",
    "BenchmarkRow.heat_t_per_gj": "供热基准值（吨 CO2/GJ）。",
    # allocation given
    "AllocationRow.year": "履约年度。",
    "AllocationRow.allocation_t": "该年度免费分配的配额（吨）。",
    # cea by vintage
    "cea_by_vintage.vintage": "配额年度（首个履约年度之前的年份）。",
    "cea_by_vintage.quantity_t": "持有量（吨）。",
    # ccer lots
    "CcerLotSpec.id": "批次标识。",
    "CcerLotSpec.quantity_t": "数量（吨）。",
    "CcerLotSpec.system": "'old'：2017-03-14 前备案的旧体系 CCER，只能使用至规则包规定的最后年度。",
    "CcerLotSpec.eligible_from_year": "可用于抵销清缴的第一个年度。",
    "CcerLotSpec.eligible_to_year": "可用于抵销清缴的最后一个年度。",
    "CcerLotSpec.from_covered_facility": "减排量来自全国碳排放权交易市场覆盖的设施（不可用于抵销，ccer.new.excludes_covered_facilities）；填写时核对。",
    "CcerLotSpec.project_start": "新体系批次：项目开始日期（2012-11-08 之后方可使用，规则包 ccer.new.project_start_after）；填写时核对。",
    "CcerLotSpec.reductions_start": "新体系批次：签发减排量所属计入期的首日（2020-09-22 之后方可使用，ccer.new.reductions_after）；填写时核对。",
    # measures
    "MeasureSpec.id": "措施标识。",
    "MeasureSpec.name": "措施名称。",
    "MeasureSpec.cost_cny_per_t": "每吨减排成本（元/吨，节约成本的措施为负），固定值或逐年（measure_costs 表）。",
    "MeasureSpec.potential_t_per_year": "每年最大减排量（吨）。",
    "MeasureSpec.first_year": "措施可用的第一年。",
    "MeasureSpec.last_year": "措施可用的最后一年。",
    "MeasureSpec.kind": "intensity：降低单位产出排放；output：减少产量，同时减少基于产出的配额（绝对总量配额不受影响）。成本和潜力均以吨 CO2 计。",
    # measure costs
    "measure_costs.measure": "措施标识（measures 表）。",
    "measure_costs.year": "履约年度。",
    "measure_costs.cost_cny_per_t": "每吨减排成本（元/吨）。",
    # projects
    "ProjectSpec.id": "项目标识。",
    "ProjectSpec.name": "项目名称。",
    "ProjectSpec.capex_cny": "投资额（元）。",
    "ProjectSpec.opex_cny_per_year": "年运行成本（元/年）。",
    "ProjectSpec.reduction_t_per_year": "每年减排量（吨 CO2）。",
    "ProjectSpec.lifetime_years": "寿命（年）。",
    "ProjectSpec.earliest_start_year": "最早可开工年份；默认首个履约年度。",
    "ProjectSpec.lead_time_years": "从开工到首个减排年份的年数。",
    # overrides
    "overrides.parameter": "规则包参数标识，如 penalty.multiple。",
    "overrides.value": "新值。",
}
"""Help of each field of the case workbook, keyed ``Model.field`` (or ``sheet.field`` for sheets
without a model)."""

SHEETS: dict[str, str] = {
    "market": "每个履约周期（年度）一行：价格单位为元/吨，限额单位为吨",
    "activity": "每年一行（units 表列出机组时每台机组每年一行）：产量、供热量、基准情景排放量",
    "units": "仅用于多机组企业；单一机组留空（企业字段填在 case 表）",
    "prior_activity": "可选：规划期前年份的活动数据，作为预分配的依据（2019-2020 年度：2018 年）",
    "benchmarks": "可选：逐年（及类别）基准值；未列出的发电行业年份使用规则包",
    "allocation_given": "allocation.method 为 'given' 时逐年给定的免费分配配额",
    "cea_by_vintage": "期初持有的配额 CEA，按配额年度（首个履约年度之前的年份）",
    "ccer_lots": "期初持有的 CCER 批次",
    "measures": "连续减排措施（边际减排成本 MAC 阶梯）；逐年成本填在 measure_costs 表",
    "measure_costs": "可选：措施的逐年成本（measures 表中该措施的 cost_cny_per_t 留空）",
    "projects": "离散减排项目，最多建设一次",
    "overrides": "本案例替换的规则包参数（value：数字，或列表和表格的 YAML/JSON 文本）",
}

SECTIONS: dict[str, str] = {
    "entity": "重点排放单位",
    "horizon": "规划期",
    "allocation": "配额分配",
    "opening": "期初持仓",
    "finance": "财务",
    "policy": "政策与履约",
    "solver": "求解器",
}

INSTRUCTIONS: tuple[str, ...] = (
    "cn-ets-planner 案例输入工作簿（全国碳排放权交易市场履约规划）",
    "",
    "1. 在 'case' 工作表的 B 列（value）填写各字段，每个字段一个值；可选字段留空即用默认值。",
    "2. 填写各表格工作表（market、activity 等）：第 1 行为字段名（请勿修改，程序按字段名读取），",
    "   第 2 行为说明（以 # 开头）；数据从第 3 行开始，每年或每项一行。",
    "3. 单位：吨 CO2（t）、元（CNY）、MWh、GJ，以字段名为准（…_t、…_cny_per_t）；请勿以“万”为单位输入。",
    "4. 请输入数值而非公式（公式只读取 Excel 保存的数值）；不要合并单元格。",
    "5. 运行：planner run 本文件.xlsx --out plans/名称（错误信息会指出工作表、行和列）。",
)
SHEETS_HEADING = "工作表："

VALIDATION: dict[str, str] = {
    "int": "请输入整数",
    "number": "请输入数字",
    "choice": "请从下拉列表中选择",
    "bool": "请选择 TRUE（是）或 FALSE（否）",
}
"""Messages of the cells' data validation (the dropdowns), by field kind."""

GROUP_COLUMNS: dict[tuple[str, str], str] = {
    ("plants", "id"): "企业标识（唯一）[必填]",
    ("plants", "name"): "显示名称",
    ("plants", "sector"): "行业：power 发电（默认）| steel 钢铁 | cement 水泥 | aluminium 电解铝 | other 其他",
    ("plants", "unit_class"): "基准值类别：coal_gt300 | coal_le300 | coal_unconventional | gas | cement_clinker | "
                              "steel_bf_bof | aluminium_electrolysis | other_industry [必填]",
    ("plants", "capacity_mw"): "单台机组额定容量（MW，用于核对燃煤类别：coal_gt300 = 不低于 400 MW）",
    ("plants", "unit_count"): "本行覆盖的同型机组台数（2 × 660 MW 电厂为 2），默认 1",
    ("plants", "cooling"): "冷却方式：water 水冷 | air 空冷",
    ("plants", "output"): "首年产量：发电量 MWh（发电行业）或产品吨数 [必填]",
    ("plants", "intensity_t_per_unit"): "排放强度：吨 CO2/MWh 或吨 CO2/吨产品（或填写 emissions_t）",
    ("plants", "emissions_t"): "首年基准情景排放量，吨 CO2（或填写排放强度）",
    ("plants", "heat_gj"): "年供热量，GJ",
    ("plants", "heat_intensity_t_per_gj"): "单位供热排放量，吨 CO2/GJ",
    ("plants", "output_growth"): "产量年变化率（0.01 = +1%）",
    ("plants", "opening_cea_t"): "期初持有的配额 CEA，吨",
    ("plants", "net_sales_since_2019_t"): "2019 年以来累计净出售配额（用于配额结转限额），吨",
    ("plants", "compliance"): "履约方式：penalty 允许缺口（罚款）| hard 必须足额履约",
    ("measures", "entity"): "电厂标识 [必填]",
    ("measures", "id"): "措施标识 [必填]",
    ("measures", "name"): "显示名称",
    ("measures", "cost_cny_per_t"): "每吨减排成本，元/吨 [必填]",
    ("measures", "potential_t_per_year"): "每年最大减排量，吨 [必填]",
    ("measures", "first_year"): "可用的第一年",
    ("measures", "last_year"): "可用的最后一年",
    ("measures", "kind"): "措施类型（如 output 表示减产）",
    ("activity", "entity"): "电厂标识 [必填]",
    ("activity", "year"): "履约年度 [必填]",
    ("activity", "output"): "产量：发电量 MWh 或产品吨数 [必填]",
    ("activity", "emissions_t"): "基准情景排放量，吨 CO2",
    ("activity", "intensity_t_per_unit"): "排放强度：吨 CO2/MWh 或吨 CO2/吨产品",
    ("activity", "heat_gj"): "供热量，GJ",
    ("activity", "heat_intensity_t_per_gj"): "单位供热排放量，吨 CO2/GJ",
}

GROUP_INSTRUCTIONS: tuple[str, ...] = (
    "集团案例的企业数据表（全国碳排放权交易市场）",
    "每个电厂在 'plants' 表占一行；减排措施（MAC 阶梯）在 'measures' 表；逐年活动数据在 'activity' 表"
    "（可选：没有时各电厂首年产量按 output_growth 逐年变化）。",
    "各表第 2 行为说明（以 # 开头），读取时跳过；首个单元格以 # 开头的行同样跳过。",
    "集团 YAML 中：entity_tables: {plants: tables.xlsx, measures: tables.xlsx, activity: tables.xlsx}",
    "错误信息会指出文件、工作表、行和列；`planner validate GROUP.yaml` 列出全部问题。",
)
